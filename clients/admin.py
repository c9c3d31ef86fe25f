from django.contrib import admin

from .models import (
    BusinessCalendar,
    BusinessHours,
    CalendarException,
    Client,
    CoverageWindow,
    DedicatedAddress,
    IntakeRule,
    PortalMembership,
    SlaPolicy,
    SlaTarget,
)


class DedicatedAddressInline(admin.TabularInline):
    model = DedicatedAddress
    extra = 0


class IntakeRuleInline(admin.StackedInline):
    model = IntakeRule
    extra = 0
    fieldsets = [
        (None, {"fields": [("position", "name", "enabled", "stop_processing")]}),
        (
            "Conditions (all that are filled in must hold)",
            {
                "fields": [
                    "sender_pattern",
                    "subject_pattern",
                    "body_pattern",
                    ("header_name", "header_pattern"),
                    ("window_start", "window_end", "window_weekdays"),
                    "coverage",
                ]
            },
        ),
        (
            "Actions",
            {
                "fields": [
                    ("set_impact", "set_urgency", "set_category"),
                    ("suppress", "treat_as_alert"),
                    "fingerprint_pattern",
                ]
            },
        ),
    ]


class CoverageWindowInline(admin.TabularInline):
    model = CoverageWindow
    extra = 0


class PortalMembershipInline(admin.TabularInline):
    model = PortalMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "timezone", "psa_kind", "active", "address_list"]
    list_filter = ["active", "psa_kind"]
    search_fields = ["name", "slug", "addresses__address"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [
        DedicatedAddressInline,
        CoverageWindowInline,
        IntakeRuleInline,
        PortalMembershipInline,
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("addresses")

    @admin.display(description="Addresses")
    def address_list(self, obj: Client) -> str:
        return ", ".join(a.address for a in obj.addresses.all())


@admin.register(DedicatedAddress)
class DedicatedAddressAdmin(admin.ModelAdmin):
    list_display = ["address", "client", "note"]
    search_fields = ["address", "client__name"]
    list_select_related = ["client"]


class BusinessHoursInline(admin.TabularInline):
    model = BusinessHours
    extra = 0


class CalendarExceptionInline(admin.TabularInline):
    model = CalendarException
    extra = 0


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = ["client", "holiday_country", "holiday_subdivision"]
    list_select_related = ["client"]
    inlines = [BusinessHoursInline, CalendarExceptionInline]


class SlaTargetInline(admin.TabularInline):
    model = SlaTarget
    extra = 0


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = ["client", "business_hours_only", "at_risk_percent"]
    list_select_related = ["client"]
    inlines = [SlaTargetInline]
