"""Create N API keys with djangorestframework-api-key and write one plaintext key.

Keys are generated exactly as ``APIKey.objects.create_key(name=...)`` does
(``APIKey.objects.assign_key(obj)``: random 8-char prefix + 32-char secret,
hashed with the library's KeyGenerator), but saved with ``bulk_create`` in one
transaction instead of one INSERT + commit per key.
"""
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rest_framework_api_key.models import APIKey


class Command(BaseCommand):
    help = "Replace all API keys with N fresh ones; write one plaintext key to OUTFILE."

    def add_arguments(self, parser):
        parser.add_argument("n", type=int)
        parser.add_argument("outfile")
        parser.add_argument("--append", action="store_true",
                            help="keep existing keys instead of deleting them first")
        parser.add_argument("--batch", type=int, default=5000)

    def handle(self, n, outfile, append, batch, **opts):
        if n < 1:
            raise CommandError("N must be >= 1")
        t0 = time.perf_counter()
        manager = APIKey.objects
        with transaction.atomic():
            if not append:
                manager.all().delete()
            seen = set(manager.values_list("prefix", flat=True)) if append else set()
            chosen = None
            created = 0
            while created < n:
                objs = []
                while len(objs) < min(batch, n - created):
                    obj = APIKey(name=f"bench-{created + len(objs)}")
                    key = manager.assign_key(obj)  # what create_key() does, minus save()
                    if obj.prefix in seen:  # prefix is UNIQUE (8 random chars)
                        continue
                    seen.add(obj.prefix)
                    objs.append(obj)
                    if chosen is None:
                        chosen = key
                manager.bulk_create(objs)
                created += len(objs)
        elapsed = time.perf_counter() - t0
        # Sanity: the written key must validate through the library's own path.
        if not manager.is_valid(chosen):
            raise CommandError("generated key does not validate")
        Path(outfile).write_text(chosen + "\n")
        hasher = manager.key_generator.preferred_hasher
        self.stdout.write(
            f"created {n} keys in {elapsed:.2f}s (hasher: {type(hasher).__name__}, "
            f"algorithm={hasher.algorithm}); total keys in DB: {manager.count()}; "
            f"one plaintext key written to {outfile}"
        )
