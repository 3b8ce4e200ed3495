//! Job monitor: dependency queuing, requeue of stuck jobs, archiving, queue report, metrics.
