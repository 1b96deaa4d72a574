"""What every chat surface shares: the sending port and the durable delivery of cards."""
