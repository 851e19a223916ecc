from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_api_key.permissions import HasAPIKey


class Check(APIView):
    permission_classes = [HasAPIKey]

    def get(self, request):
        return Response({"valid": True})

    def get_authenticate_header(self, request):
        # DRF answers a failed permission check with 403 unless an
        # authenticator supplies a WWW-Authenticate value; we have no
        # authenticators, so supply one here to get 401 like the other peers.
        return 'Api-Key realm="api"'

    def permission_denied(self, request, message=None, code=None):
        from rest_framework.exceptions import NotAuthenticated

        raise NotAuthenticated()
