"""Small programs for people: rendering the dashboard for the README."""
