"""Open data: releases of the published marts with standard metadata."""
