package dev.skiff.service.memcached;

import dev.skiff.service.TestStores;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A TCP proxy in front of a server, on a port of its own, that can turn its connections half-open: as
 * after a network partition or a NAT or firewall that forgot them, the connections stay open at both
 * ends but nothing gets through any more, and nobody is told. While it is {@link #cut() cut}, new
 * connections are accepted and go nowhere too; once {@link #mend() mended}, new connections reach the
 * server again, while those made before stay dead for good.
 */
final class HalfOpenProxy implements AutoCloseable {
  private final int target;
  private final ServerSocket server;
  private final List<Link> links = new CopyOnWriteArrayList<>();
  private volatile boolean cut;

  /** @param target the server's port on 127.0.0.1 */
  HalfOpenProxy(int target) {
    this.target = target;
    try {
      server = new ServerSocket(TestStores.freePort(), 50, InetAddress.getLoopbackAddress());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Thread accept = new Thread(this::accept, "half-open-proxy-" + server.getLocalPort());
    accept.setDaemon(true);
    accept.start();
  }

  /** @return the proxy's address, {@code 127.0.0.1:PORT} */
  String address() {
    return "127.0.0.1:" + server.getLocalPort();
  }

  /** Makes every connection half-open, and those accepted from now on go nowhere. */
  void cut() {
    cut = true;
    links.forEach(l -> l.dead = true);
  }

  /** New connections reach the server again; those made before stay dead. */
  void mend() {
    cut = false;
  }

  private void accept() {
    while (!server.isClosed()) {
      try {
        Socket client = server.accept();
        Link link = new Link(client);
        links.add(link);
        if (cut) {
          link.dead = true;
          link.pump(client.getInputStream(), null);
        } else {
          Socket upstream = new Socket(InetAddress.getLoopbackAddress(), target);
          link.upstream = upstream;
          link.pump(client.getInputStream(), upstream.getOutputStream());
          link.pump(upstream.getInputStream(), client.getOutputStream());
        }
      } catch (IOException e) {
        // the server is not there (the connection is closed at once, as a refusal would) or we are closing
      }
    }
  }

  @Override
  public void close() {
    try {
      server.close();
    } catch (IOException e) {
      // closing anyway
    }
    links.forEach(Link::close);
  }

  /** A client connection and, unless it goes nowhere, its connection to the server. */
  private static final class Link {
    final Socket client;
    volatile Socket upstream;
    volatile boolean dead;

    Link(Socket client) {
      this.client = client;
    }

    /** Copies from {@code in} to {@code out} while the link is alive; reads and drops once it is dead. */
    void pump(InputStream in, OutputStream out) {
      Thread t = new Thread(() -> {
        byte[] buf = new byte[8192];
        try {
          for (int n; (n = in.read(buf)) >= 0; ) {
            if (!dead && out != null) {
              out.write(buf, 0, n);
              out.flush();
            }
          }
        } catch (IOException e) {
          // one side went away
        }
        if (!dead) {
          close();
        }
      }, "half-open-proxy-pump");
      t.setDaemon(true);
      t.start();
    }

    void close() {
      try {
        client.close();
        if (upstream != null) {
          upstream.close();
        }
      } catch (IOException e) {
        // closing anyway
      }
    }
  }
}
