"""The roles people have here, as Django groups."""

SDM_GROUP = "Service desk managers"
AGENT_GROUP = "Agents"
