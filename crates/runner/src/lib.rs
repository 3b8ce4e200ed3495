//! The job-processing framework: picker, executor pool, saver; periodic tasks; shutdown.
