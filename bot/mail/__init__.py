"""Email: a booking turned into a complete message.

`bot.mail.compose.compose` builds the message; `bot.mail.ics` its calendar invitation.
"""
