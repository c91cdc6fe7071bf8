"""The colorist's tools: keyframe export, preview sheets and the review page."""
