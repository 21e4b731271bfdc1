"""The bot's features, one extension per feature: asking, articles, and the answer buttons."""
