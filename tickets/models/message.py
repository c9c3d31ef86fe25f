import hashlib

from django.db import models

from clients.models import Client

from .ticket import Ticket


class MessageKind(models.TextChoices):
    MAIL = "mail", "Mail"
    ALERT = "alert", "Alert"
    RECOVERY = "recovery", "Recovery alert"
    AUTO_REPLY = "auto_reply", "Auto-reply"
    BOUNCE = "bounce", "Bounce"


class Message(models.Model):
    """One mail of a ticket's thread."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    # Denormalised from the ticket so threading lookups stay within one client by index.
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    inbound = models.OneToOneField(
        "tickets.InboundMail",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="message",
    )
    kind = models.CharField(max_length=12, choices=MessageKind, default=MessageKind.MAIL)
    message_id = models.CharField(max_length=255, blank=True)
    in_reply_to = models.CharField(max_length=255, blank=True)
    references = models.TextField(blank=True)
    from_address = models.CharField(max_length=254, blank=True)
    from_name = models.CharField(max_length=200, blank=True)
    to_addresses = models.TextField(blank=True)
    cc_addresses = models.TextField(blank=True)
    sent_at = models.DateTimeField(help_text="The mail's Date, or its receive time when unusable.")
    subject = models.CharField(max_length=998)
    text = models.TextField(blank=True)
    html = models.TextField(blank=True, help_text="Sanitised with nh3 at intake.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sent_at", "id"]
        indexes = [models.Index(fields=["client", "message_id"])]

    def __str__(self) -> str:
        return f"{self.subject[:60]} <{self.from_address}>"


MAX_STORED_NAME_BYTES = 150  # file systems allow 255 bytes a name; keep well under


def storage_name(filename: str) -> str:
    """The filename shortened to a byte length every file system accepts, extension kept."""
    if len(filename.encode("utf-8")) <= MAX_STORED_NAME_BYTES:
        return filename
    stem, dot, ext = filename.rpartition(".")
    if not dot or len(ext.encode("utf-8")) > 20:
        stem, dot, ext = filename, "", ""
    budget = MAX_STORED_NAME_BYTES - len((dot + ext).encode("utf-8"))
    stem = stem.encode("utf-8")[:budget].decode("utf-8", "ignore")
    return f"{stem}{dot}{ext}"


def attachment_path(instance: "Attachment", filename: str) -> str:
    # Content-addressed: reprocessing a mail reuses the stored file. The full name
    # stays in Attachment.filename; the path only has to be valid.
    return f"attachments/{instance.sha256[:2]}/{instance.sha256}/{storage_name(filename)}"


class Attachment(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=400)
    filename = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    content_id = models.CharField(max_length=255, blank=True)
    inline = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.filename

    @staticmethod
    def digest(content: bytes) -> str:
        return hashlib.sha256(content).hexdigest()
