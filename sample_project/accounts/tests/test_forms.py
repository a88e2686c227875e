from __future__ import annotations

from django.contrib.auth.models import User
from django.test import TestCase

from accounts.forms import SignupForm

GOOD_PASSWORD = "correct-horse-battery-staple"


class SignupFormTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        User.objects.create_user("taken", "taken@example.com")

    def form(self, **overrides: str) -> SignupForm:
        data = {
            "username": "newcomer",
            "email": "New.Comer@Example.com",
            "password1": GOOD_PASSWORD,
            "password2": GOOD_PASSWORD,
        }
        data.update(overrides)
        return SignupForm(data)

    def test_valid_data_normalises_the_email(self) -> None:
        form = self.form()
        self.assertTrue(form.is_valid(), form.errors)
        self.assertEqual(form.cleaned_data["email"], "new.comer@example.com")

    def test_email_in_use_is_refused_whatever_its_case(self) -> None:
        form = self.form(email="TAKEN@example.com")
        self.assertEqual(
            form.errors["email"], ["An account with this e-mail address already exists."]
        )

    def test_weak_or_mismatched_passwords_are_refused(self) -> None:
        self.assertIn("password2", self.form(password2="something-else-entirely").errors)
        self.assertIn("password2", self.form(password1="12345", password2="12345").errors)
