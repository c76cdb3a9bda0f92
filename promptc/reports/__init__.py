"""What people read: terminal tables, CI reports, the HTML report."""
