"""The language of each page: the signed-in user's own choice, kept on their profile so it follows
them across logins and devices; otherwise the choice saved in the language cookie (made on the login
page, say), else the browser's Accept-Language, both read by Django's LocaleMiddleware.

One switcher on every page (templates/base.html) posts to `choose_language`. Emails and text messages
are sent in their recipient's language: `language_of(user)`.
"""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponseBadRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST


def switched_on(code: str) -> bool:
    return any(code == language for language, _ in settings.LANGUAGES)


def language_of(user) -> str:
    """The user's chosen language when it is switched on, else the site's default."""
    profile = getattr(user, "profile", None) if user is not None else None
    chosen = profile.language if profile is not None else ""
    return chosen if chosen and switched_on(chosen) else settings.LANGUAGE_CODE


def _profile_language(user) -> str:
    from cases.models import Profile  # the settings module's middleware list imports this module early

    try:
        chosen = user.profile.language
    except Profile.DoesNotExist:
        return ""
    return chosen if switched_on(chosen) else ""


def users_own_language(get_response):
    """A signed-in user's profile language replaces the cookie's or browser's (after LocaleMiddleware and
    AuthenticationMiddleware in MIDDLEWARE). One indexed SELECT per request, only for signed-in users."""

    def middleware(request):
        if request.user.is_authenticated:
            chosen = _profile_language(request.user)
            if chosen:
                translation.activate(chosen)
                request.LANGUAGE_CODE = chosen
        return get_response(request)

    return middleware


@login_not_required
@require_POST
def choose_language(request):
    """Save the chosen language (on the profile when signed in, in the cookie always) and go back."""
    from cases.models import Profile

    code = request.POST.get("language", "")
    if not switched_on(code):
        return HttpResponseBadRequest(translation.gettext("That language is not available."))
    if request.user.is_authenticated:
        Profile.objects.update_or_create(user=request.user, defaults={"language": code})
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        back = reverse("cases:home")
    response = HttpResponseRedirect(back)
    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, code, max_age=settings.LANGUAGE_COOKIE_AGE,
                        samesite="Lax", secure=request.is_secure(), httponly=False)
    return response


def switcher(request):
    """Context processor: the languages the switcher offers and the page's own address to come back to."""
    return {"switchable_languages": settings.LANGUAGES, "switcher_next": request.get_full_path()}
