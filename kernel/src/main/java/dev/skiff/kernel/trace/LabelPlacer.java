package dev.skiff.kernel.trace;

import java.util.ArrayList;
import java.util.List;

/**
 * Places the labels of a sequence diagram's arrows so that none covers another: each takes the first of
 * its places, by its arrow and then a line further from it each, that no label placed before it covers.
 * A label whose every place is taken is left out when a label there already says the same (parallel calls
 * to one endpoint), or when all its places are taken; its arrow's tooltip and the span table still have it.
 * Text widths are estimated from the font size, as a browser would lay out a sans-serif label.
 */
final class LabelPlacer {
  /** The labels' font size, in pixels. */
  static final int FONT = 11;
  /** How many places further from its arrow a label may move. */
  private static final int MOVES = 3;
  /** The average advance of a character of the labels' font, in pixels (system-ui at 11 px: 5.5 to 6.5). */
  private static final double CHAR = 6.6;

  /**
   * A label to place.
   *
   * @param x where its centre is, horizontally
   * @param line the height of its arrow
   * @param above whether it sits above its arrow (a call sent) or below it (its end)
   * @param text what it says
   * @param colour its colour
   */
  record Label(double x, double line, boolean above, String text, String colour) {}

  /**
   * A label placed.
   *
   * @param label the label
   * @param baseline the height of its text's baseline
   */
  record Placed(Label label, double baseline) {
    double left() {
      return label.x() - width(label.text()) / 2;
    }

    double right() {
      return label.x() + width(label.text()) / 2;
    }

    double top() {
      return baseline - FONT + 1;
    }

    double bottom() {
      return baseline + 3;
    }

    boolean covers(Placed o) {
      return left() < o.right() && o.left() < right() && top() < o.bottom() && o.top() < bottom();
    }
  }

  private final List<Placed> placed = new ArrayList<>();

  /**
   * @param label a label, placed after those given before it
   * @return where it goes, or null when it is left out
   */
  Placed place(Label label) {
    for (int move = 0; move <= MOVES; move++) {
      double step = (FONT + 2) * move;
      Placed p = new Placed(label, label.above() ? label.line() - 4 - step : label.line() + FONT + 1 + step);
      Placed taken = covering(p);
      if (taken == null) {
        placed.add(p);
        return p;
      }
      if (taken.label().text().equals(label.text())) {
        return null;
      }
    }
    return null;
  }

  private Placed covering(Placed p) {
    for (Placed o : placed) {
      if (o.covers(p)) {
        return o;
      }
    }
    return null;
  }

  static double width(String text) {
    return text.codePointCount(0, text.length()) * CHAR;
  }
}
