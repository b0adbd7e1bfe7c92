"""No cached copies of pages with patient data."""

from django.utils.cache import patch_cache_control


def no_store_for_signed_in_users(get_response):
    """Every page a signed-in user gets may show patient data: no browser or proxy may keep a copy.

    Static files keep their cache headers: WhiteNoise, earlier in MIDDLEWARE, answers them
    before this runs. Goes after AuthenticationMiddleware, which sets request.user.
    """

    def middleware(request):
        response = get_response(request)
        if request.user.is_authenticated:
            patch_cache_control(response, private=True, no_store=True)
        return response

    return middleware
