"""One pane per investigation step; the app shows the current one in a ContentSwitcher."""
