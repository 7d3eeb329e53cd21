"""A Django service for scan/django_test.go, run behind an mTLS front.

One file, no database: signed-cookie sessions, state in memory. Usage:
python3 app.py PORT. The front forwards the verified certificate's
subject as X-Client-Subject and sets X-Forwarded-Proto: https, so that
CsrfViewMiddleware checks the Referer as on any HTTPS site.

Environment: DJANGO_TRUSTED (CSRF_TRUSTED_ORIGINS, comma-separated),
DJANGO_CSRF_USE_SESSIONS=1.
"""
import json
import os
import sys
import threading
from urllib.parse import urlsplit

from django.conf import settings

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    SECRET_KEY="forgeproof-test-only-not-a-secret",
    MIDDLEWARE=[
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
    ],
    INSTALLED_APPS=[],
    SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
    SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
    SESSION_COOKIE_SECURE=True,
    CSRF_COOKIE_SECURE=True,
    CSRF_TRUSTED_ORIGINS=[o for o in os.environ.get("DJANGO_TRUSTED", "").split(",") if o],
    CSRF_USE_SESSIONS=os.environ.get("DJANGO_CSRF_USE_SESSIONS") == "1",
    LOGGING_CONFIG=None,
)

import django  # noqa: E402

django.setup()

from django.http import HttpResponse, HttpResponseForbidden, JsonResponse  # noqa: E402
from django.middleware.csrf import CsrfViewMiddleware, get_token  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

lock = threading.Lock()
balance = {"n": 1000}


def spend(request, fields):
    try:
        amount = int(fields.get("amount", "0"))
    except ValueError:
        return HttpResponse("bad amount", status=400)
    with lock:
        balance["n"] -= amount
        n = balance["n"]
    return HttpResponse("<p>sent; balance %d</p>" % n)


def logged_in(request):
    return request.session.get("user") is not None


def index(request):
    tok = get_token(request)
    if not logged_in(request):
        return HttpResponse(
            '<form method="post" action="/login">'
            '<input type="hidden" name="csrfmiddlewaretoken" value="%s">'
            '<input name="username"><input type="password" name="password">'
            "<button>Log in</button></form>" % tok
        )
    return HttpResponse(
        '<form method="post" action="/transfer">'
        '<input type="hidden" name="csrfmiddlewaretoken" value="%s">'
        '<input name="to" value="bob"><input name="amount" value="1">'
        "<button>Send</button></form>" % tok
    )


def login(request):
    if request.method != "POST":
        return HttpResponse(status=405)
    if request.POST.get("password") != "demo":
        return HttpResponse("bad password", status=403)
    request.session["user"] = request.POST.get("username")
    resp = HttpResponse(status=303)
    resp["Location"] = "/"
    return resp


def api_balance(request):
    if not logged_in(request):
        return JsonResponse({"error": "login"}, status=401)
    with lock:
        return JsonResponse({"balance": balance["n"]})


def transfer(request):
    """Protected by CsrfViewMiddleware (token and, on HTTPS, Referer)."""
    if request.method != "POST" or not logged_in(request):
        return HttpResponse(status=403)
    return spend(request, request.POST)


@csrf_exempt
def exempt_transfer(request):
    """@csrf_exempt: a webhook-style view that a browser can also reach."""
    if request.method != "POST" or not logged_in(request):
        return HttpResponse(status=403)
    return spend(request, request.POST)


def drf_fields(request):
    """DRF's default parsers: JSON, form, multipart."""
    if request.content_type == "application/json":
        try:
            return {k: str(v) for k, v in json.loads(request.body).items()}
        except ValueError:
            return None
    return request.POST


@csrf_exempt
def api_transfers(request):
    """An APIView with SessionAuthentication: CSRF is enforced only when
    the session authenticates the request (DRF's enforce_csrf)."""
    if request.method != "POST" or not logged_in(request):
        return JsonResponse({"detail": "not authenticated"}, status=403)
    reason = CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {})
    if reason:
        return JsonResponse({"detail": "CSRF Failed"}, status=403)
    fields = drf_fields(request)
    if fields is None:
        return JsonResponse({"detail": "parse error"}, status=400)
    return spend(request, fields)


@csrf_exempt
def api_cert_transfers(request):
    """An APIView authenticated by the proxy-forwarded certificate
    (RemoteUserAuthentication-style): DRF never enforces CSRF here."""
    if request.method != "POST" or not cert_user(request):
        return JsonResponse({"detail": "not authenticated"}, status=403)
    fields = drf_fields(request)
    if fields is None:
        return JsonResponse({"detail": "parse error"}, status=400)
    return spend(request, fields)


def get_transfer(request):
    """State change on GET: CsrfViewMiddleware never checks GET."""
    if not logged_in(request):
        return HttpResponse(status=403)
    return spend(request, request.GET)


def cert_user(request):
    """The certificate's subject, forwarded by the mTLS front."""
    return request.META.get("HTTP_X_CLIENT_SUBJECT")


def own_origin(request):
    return "https://" + request.get_host()


@csrf_exempt
def naive_prefix(request):
    """A hand-written check: the Origin must start with the site's URL."""
    o = request.META.get("HTTP_ORIGIN", "")
    if request.method != "POST" or not cert_user(request):
        return HttpResponse(status=403)
    if not o.startswith("https://" + request.get_host().split(":")[0]):
        return HttpResponseForbidden("bad origin")
    return spend(request, request.POST)


@csrf_exempt
def naive_suffix(request):
    """A hand-written check: the Origin's host must end with the site's."""
    o = request.META.get("HTTP_ORIGIN", "")
    if request.method != "POST" or not cert_user(request):
        return HttpResponse(status=403)
    if not o.endswith(request.get_host()):
        return HttpResponseForbidden("bad origin")
    return spend(request, request.POST)


@csrf_exempt
def naive_referer(request):
    """A hand-written check on the Referer alone, skipped when it is absent."""
    r = request.META.get("HTTP_REFERER")
    if request.method != "POST" or not cert_user(request):
        return HttpResponse(status=403)
    if r is not None and not r.startswith(own_origin(request) + "/"):
        return HttpResponseForbidden("bad referer")
    return spend(request, request.POST)


@csrf_exempt
def exact_origin(request):
    """The allowed twin of the naive checks: the whole Origin compared."""
    o = request.META.get("HTTP_ORIGIN")
    if request.method != "POST" or not cert_user(request):
        return HttpResponse(status=403)
    if o != own_origin(request):
        return HttpResponseForbidden("bad origin")
    return spend(request, request.POST)


urlpatterns = [
    path("", index),
    path("login", login),
    path("api/balance", api_balance),
    path("transfer", transfer),
    path("exempt/transfer", exempt_transfer),
    path("api/transfers", api_transfers),
    path("api/cert/transfers", api_cert_transfers),
    path("get/transfer", get_transfer),
    path("naive/prefix", naive_prefix),
    path("naive/suffix", naive_suffix),
    path("naive/referer", naive_referer),
    path("exact/origin", exact_origin),
]

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line([sys.argv[0], "runserver", "--noreload", "127.0.0.1:" + sys.argv[1]])
