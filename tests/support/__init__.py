"""What the tests share and are not tests themselves: the course's notebooks (``notebooks``), the network cut
(``offline``, also a command), the nbval plugin with its loud skips (``user_runs``) and a headless Chromium
(``browser``). Test modules import from here, never from one another."""
