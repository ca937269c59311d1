"""Fetchers: per resource family, the GitHub requests that read one repository and the rows
they yield. They know GitHub and nothing of Singer (no singer-sdk import, no threads)."""
