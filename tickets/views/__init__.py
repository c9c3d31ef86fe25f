"""The agents' pages: their tickets, their teams' queue, and the ticket they work."""
