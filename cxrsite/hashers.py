"""Argon2id at OWASP's recommended cost instead of Django's default of 100 MiB per hash.

Django 5.2 hashes with memory_cost=102400 KiB, time_cost=2, parallelism=8: every login then
allocates 100 MiB inside the web process, which took a 92 MB gunicorn worker to 192 MB at its
peak (BENCHMARKS.md). OWASP's Password Storage Cheat Sheet lists m=47104 KiB (46 MiB), t=1,
p=1 among its Argon2id configurations of equal strength. The algorithm name stays "argon2",
so hashes made with the old parameters still verify and Django re-hashes them at the next
login (its must_update compares the parameters).
"""

from django.contrib.auth.hashers import Argon2PasswordHasher


class OWASPArgon2PasswordHasher(Argon2PasswordHasher):
    time_cost = 1
    memory_cost = 47104
    parallelism = 1
