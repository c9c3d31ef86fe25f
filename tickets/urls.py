from django.urls import path

from .views import queue, ticket

app_name = "desk"

urlpatterns = [
    path("", queue.my_tickets, name="my-tickets"),
    path("queue/", queue.team_queue, name="queue"),
    path("take-next/", queue.take_next, name="take-next"),
    path("presence/", queue.presence, name="presence"),
    path("tickets/<int:pk>/release/", ticket.release, name="release"),
    path("tickets/<int:pk>/", ticket.ticket_page, name="ticket"),
    path("tickets/<int:pk>/time/", ticket.log_time, name="log-time"),
    path("tickets/<int:pk>/time/<int:entry_id>/delete/", ticket.delete_time, name="delete-time"),
    path("tickets/<int:pk>/timer/", ticket.timer, name="timer"),
    path("tickets/<int:pk>/note/", ticket.note, name="note"),
    path("tickets/<int:pk>/status/", ticket.status, name="status"),
    path("tickets/<int:pk>/resolve/", ticket.resolve, name="resolve"),
    path("tickets/<int:pk>/attachments/<int:attachment_id>/", ticket.attachment, name="attachment"),
]
