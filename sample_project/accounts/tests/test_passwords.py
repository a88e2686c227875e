from __future__ import annotations

from django.contrib.auth.models import User
from django.test import TestCase, tag
from django.urls import reverse

OLD_PASSWORD = "correct-horse-battery-staple"
NEW_PASSWORD = "tr0ub4dor-and-three-more"


# Deliberate work: these tests hash passwords with Django's real PBKDF2 hasher (hundreds of
# thousands of iterations each), as a suite that does not swap in a fast test hasher would.
@tag("slow")
class PasswordHashingTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.user = User.objects.create_user("heidi", "heidi@example.com", OLD_PASSWORD)

    def test_password_is_stored_hashed(self) -> None:
        self.assertTrue(self.user.password.startswith("pbkdf2_sha256$"))
        self.assertNotIn(OLD_PASSWORD, self.user.password)
        self.assertTrue(self.user.check_password(OLD_PASSWORD))
        self.assertFalse(self.user.check_password(NEW_PASSWORD))

    def test_login_form_checks_the_password(self) -> None:
        response = self.client.post(
            reverse("login"), {"username": "heidi", "password": NEW_PASSWORD}
        )
        self.assertContains(response, "Please enter a correct username and password")
        response = self.client.post(
            reverse("login"), {"username": "heidi", "password": OLD_PASSWORD}
        )
        self.assertRedirects(response, reverse("accounts:profile"))

    def test_password_change_replaces_the_hash(self) -> None:
        self.client.force_login(self.user)
        response = self.client.post(
            reverse("password_change"),
            {
                "old_password": OLD_PASSWORD,
                "new_password1": NEW_PASSWORD,
                "new_password2": NEW_PASSWORD,
            },
        )
        self.assertRedirects(response, reverse("password_change_done"))
        self.user.refresh_from_db()
        self.assertTrue(self.user.check_password(NEW_PASSWORD))
