from __future__ import annotations

from django.contrib.auth.models import User
from django.test import TestCase, tag

from accounts.models import Profile


class ProfileModelTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.ada = User.objects.create_user("ada", "ada@example.com")
        cls.bob = User.objects.create_user("bob", "bob@example.com")
        Profile.objects.filter(user=cls.bob).update(display_name="Bobby")

    @tag("smoke")
    def test_every_new_user_gets_a_profile(self) -> None:
        self.assertEqual(Profile.objects.count(), 2)
        self.assertFalse(self.ada.profile.newsletter)

    def test_shown_name_falls_back_to_the_username(self) -> None:
        self.assertEqual(self.ada.profile.shown_name, "ada")
        self.assertEqual(str(Profile.objects.get(user=self.bob)), "Bobby")

    def test_profiles_are_ordered_by_username(self) -> None:
        User.objects.create_user("aaron")
        names = [profile.user.username for profile in Profile.objects.select_related("user")]
        self.assertEqual(names, ["aaron", "ada", "bob"])

    def test_deleting_a_user_deletes_the_profile(self) -> None:
        self.bob.delete()
        self.assertQuerySetEqual(Profile.objects.all(), [self.ada.profile])
