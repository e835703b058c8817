"""Alerts: pure rules over figures, scheduled jobs that gather the figures, and the secretariat's review queue."""
