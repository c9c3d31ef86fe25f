from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from tickets.intake.webhooks import INBOUND_VIEWS

admin.site.site_header = "Service desk console"
admin.site.site_title = "Service desk"
admin.site.index_title = "SDM console"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="desk:my-tickets", permanent=False)),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("desk/", include("tickets.urls")),
    path("django-rq/", include("django_rq.urls")),
    *[
        path(f"inbound/{name}/", view.as_view(), name=f"inbound-{name}")
        for name, view in INBOUND_VIEWS.items()
    ],
    # Mailgun posts the raw MIME message only to a forward() URL ending in "mime".
    path("inbound/mailgun/inbound_mime/", INBOUND_VIEWS["mailgun"].as_view()),
]
