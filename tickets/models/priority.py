from django.db import models

from clients.models import Level

from .ticket import Priority

# ITIL's usual matrix; the SDM edits the stored copy in the admin.
DEFAULT_MATRIX = {
    (Level.HIGH, Level.HIGH): Priority.P1,
    (Level.HIGH, Level.MEDIUM): Priority.P2,
    (Level.MEDIUM, Level.HIGH): Priority.P2,
    (Level.HIGH, Level.LOW): Priority.P3,
    (Level.MEDIUM, Level.MEDIUM): Priority.P3,
    (Level.LOW, Level.HIGH): Priority.P3,
    (Level.MEDIUM, Level.LOW): Priority.P4,
    (Level.LOW, Level.MEDIUM): Priority.P4,
    (Level.LOW, Level.LOW): Priority.P4,
}


class PriorityMatrixCell(models.Model):
    """Impact x urgency -> priority. One row per pair; a missing row uses the default."""

    impact = models.PositiveSmallIntegerField(choices=Level)
    urgency = models.PositiveSmallIntegerField(choices=Level)
    priority = models.CharField(max_length=2, choices=Priority)

    class Meta:
        ordering = ["impact", "urgency"]
        verbose_name = "priority matrix cell"
        constraints = [
            models.UniqueConstraint(fields=["impact", "urgency"], name="priority_matrix_one_cell")
        ]

    def __str__(self) -> str:
        impact, urgency = self.get_impact_display(), self.get_urgency_display()
        return f"{impact} impact, {urgency} urgency: {self.priority}"


def priority_for(impact: int, urgency: int) -> str:
    """The matrix's priority for an impact and an urgency."""
    stored = (
        PriorityMatrixCell.objects.filter(impact=impact, urgency=urgency)
        .values_list("priority", flat=True)
        .first()
    )
    return stored or DEFAULT_MATRIX[(impact, urgency)]
