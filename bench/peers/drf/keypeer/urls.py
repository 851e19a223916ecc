from django.urls import path

from .views import Check

urlpatterns = [path("check", Check.as_view())]
