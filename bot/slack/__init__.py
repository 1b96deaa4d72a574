"""The Slack adapter: Block Kit cards, /bookings, buttons, modals and App Home over Bolt."""
