import factory
from django.contrib.auth import get_user_model

from clients.models import Client, DedicatedAddress, IntakeRule


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Client
        django_get_or_create = ("slug",)
        skip_postgeneration_save = True

    slug = factory.Sequence(lambda n: f"msp{n}")
    name = factory.LazyAttribute(lambda o: f"{o.slug.title()} Managed Services")
    timezone = "Europe/London"

    @factory.post_generation
    def address(self, create, extracted, **kwargs):
        """Every client gets <slug>@in.test unless address=False is passed."""
        if create and extracted is not False:
            DedicatedAddress.objects.get_or_create(
                client=self, address=extracted or f"{self.slug}@in.test"
            )


class IntakeRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IntakeRule

    client = factory.SubFactory(ClientFactory)
    name = factory.Sequence(lambda n: f"rule {n}")
    position = factory.Sequence(lambda n: n)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw-for-tests-1")


def make_agent(username: str, *teams, skills=(), cap: int = 5, presence: str = "available"):
    """An agent (with its user) in the given teams, with skills by name."""
    from tickets.models import Agent, Skill

    agent = Agent.objects.create(
        user=UserFactory(username=username), max_open_tickets=cap, presence=presence
    )
    agent.teams.add(*teams)
    agent.skills.add(*(Skill.objects.get_or_create(name=name)[0] for name in skills))
    return agent
