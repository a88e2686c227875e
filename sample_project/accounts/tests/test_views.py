from __future__ import annotations

from django.contrib.auth.models import User
from django.test import TestCase, tag
from django.urls import reverse

PASSWORD = "correct-horse-battery-staple"


class SignupViewTests(TestCase):
    @tag("smoke")
    def test_form_is_shown(self) -> None:
        response = self.client.get(reverse("accounts:signup"))
        self.assertContains(response, "Create account")
        self.assertTemplateUsed(response, "accounts/signup.html")

    def test_signing_up_creates_the_account_and_logs_in(self) -> None:
        response = self.client.post(
            reverse("accounts:signup"),
            {
                "username": "eve",
                "email": "eve@example.com",
                "password1": PASSWORD,
                "password2": PASSWORD,
            },
            follow=True,
        )
        self.assertRedirects(response, reverse("accounts:profile"))
        self.assertContains(response, "Welcome! Your account is ready.")
        self.assertTrue(User.objects.get(username="eve").check_password(PASSWORD))

    def test_logged_in_user_is_sent_to_the_profile(self) -> None:
        self.client.force_login(User.objects.create_user("frank"))
        response = self.client.get(reverse("accounts:signup"))
        self.assertRedirects(response, reverse("accounts:profile"))


class ProfileViewTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.user = User.objects.create_user("grace", "grace@example.com")

    def test_anonymous_visitor_is_asked_to_log_in(self) -> None:
        url = reverse("accounts:profile")
        self.assertRedirects(self.client.get(url), f"{reverse('login')}?next={url}")

    def test_profile_page_greets_the_user(self) -> None:
        self.client.force_login(self.user)
        self.assertContains(self.client.get(reverse("accounts:profile")), "Hello, grace")

    def test_saving_the_profile(self) -> None:
        self.client.force_login(self.user)
        response = self.client.post(
            reverse("accounts:profile"),
            {"display_name": "Grace H.", "newsletter": "on"},
            follow=True,
        )
        self.assertContains(response, "Profile saved.")
        self.user.profile.refresh_from_db()
        self.assertEqual(self.user.profile.display_name, "Grace H.")
        self.assertTrue(self.user.profile.newsletter)
