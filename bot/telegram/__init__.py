"""The Telegram adapter: python-telegram-bot's Application as one chat surface of serve.

surface.py   start, stop, webhook route or long polling, the token kept out of logs
handlers.py  updates in, one chat-layer call each
render.py    cards, lists, the calendar and notices as HTML with inline keyboards
buttons.py   what Telegram's own buttons carry (pages, days, Cancel's answers)
sender.py    durable deliveries: the chat layer's sender, Bot API errors, the overall pace
"""
