"""Request intake: /video's options and prompt flags, attached pictures, channel defaults, and the
actions members and admins take on jobs."""
