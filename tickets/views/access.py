from functools import wraps

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from ..models import Agent, Presence


def agent_required(view):
    """The view gets `request.agent`; a user who is not an agent gets a clear 403."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        agent = Agent.objects.filter(user=request.user).prefetch_related("teams", "skills").first()
        if agent is None:
            return render(request, "desk/not_an_agent.html", status=403)
        request.agent = agent
        request.presence_choices = Presence.choices
        return view(request, *args, **kwargs)

    return wrapper
