"""Community policy, watched words and held posts (issue 16); see docs/safety.md."""
