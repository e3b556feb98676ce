"""URL configuration."""

from allauth.account.views import LogoutView
from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

from main.api import MeView, api_not_found
from main.mail_tracking import tracking_webhook

urlpatterns = [
    # Every logout is the site's own (main.accounts.logout_url): the Django admin's and Wagtail's
    # logout links land on the site's login page, not on their own "Logged out" pages.
    path("admin/logout/", LogoutView.as_view(), name="admin-logout"),
    path("cms/logout/", LogoutView.as_view(), name="cms-logout"),
    path("admin/", admin.site.urls),
    path("cms/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    # The mail provider's delivery reports (django-anymail), for the configured provider only,
    # once its webhook credentials are set (main.mail_tracking.tracking_webhook).
    path("anymail/<str:provider>/tracking/", tracking_webhook, name="mail-tracking"),
    # Accounts (allauth): /login/, /logout/, /signup/, /confirm-email/<key>/, /password/reset/,
    # /email/ (change it), /password/change/.
    path("", include("allauth.account.urls")),
    # The organization login (SSO): /login/sso/ and /complete/sso/; 404 unless configured.
    path("", include("social_django.urls", namespace="social")),
    path("", include("courses.urls")),
    path("", include("ecommerce.urls")),
    path("", include("b2b.urls")),
    path("api/v0/me/", MeView.as_view(), name="api-me"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

urlpatterns += [
    re_path(r"^api/", api_not_found),
    path("", include(wagtail_urls)),
]
