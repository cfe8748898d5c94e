/** <b>API.</b> Typed events over the transport's topics ({@link dev.skiff.platform.pubsub.PubSub}). */
package dev.skiff.platform.pubsub;
