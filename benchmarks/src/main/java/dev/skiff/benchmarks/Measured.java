package dev.skiff.benchmarks;

import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Threads;

/**
 * How the benchmarks compared in docs/performance.md are measured, so that their results compare: 5
 * iterations of 2 s, in one forked JVM with a fixed 1 GB heap, on one benchmark thread. (JMH reads these
 * annotations from a benchmark's superclass.) Each benchmark class sets its own warm-up and mode.
 */
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Threads(1)
public abstract class Measured {}
