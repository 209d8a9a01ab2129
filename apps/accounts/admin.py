from django.contrib import admin

from apps.accounts.models import Profile


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "timezone", "email_messages"]
    list_filter = ["email_messages"]
    search_fields = ["user__username", "user__email"]
    raw_id_fields = ["user"]
