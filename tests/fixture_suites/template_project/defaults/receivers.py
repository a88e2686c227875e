"""The post_migrate receiver that creates the default colour."""

DEFAULT_COLOUR = "red"


def create_default_colour(sender, using, apps=None, **kwargs):
    Colour = apps.get_model("defaults", "Colour")
    Colour.objects.using(using).get_or_create(name=DEFAULT_COLOUR)
