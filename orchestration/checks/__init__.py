"""Great Expectations gates as blocking asset checks: a failed ERROR gate stops everything
downstream of its asset, a WARN gate is shown in the UI and lets the run go on.
"""
