"""Lifecycle messages (CONTRACT §3): rules organisers configure, when they are due (`due`), the
deliveries they give (`configuring`, `rows`), safe templates (`templating`) and the one-click
opt-out (`unsubscribe`). `reminders/` sends the deliveries. Nothing is imported here, so the
engine can use `rows` without importing the domain functions that reschedule."""
