package dev.skiff.cli;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Renders one of {@code skiff new}'s templates: the files of the Maven archetype (module
 * {@code archetype}, {@code archetype-resources}), which Maven renders with Velocity. This is the part of
 * Velocity those files use, and no more, so that both make the same project:
 *
 * <ul>
 *   <li>{@code ${name}} and {@code $name}, for a name in the properties, become its value; any other
 *       {@code $} text ({@code ${project.version}} in a pom) stays as it is;
 *   <li>a line holding only {@code #if( $name == "value" )} or {@code #if( $name != "value" )}, then
 *       {@code #else} and {@code #end} lines (nested), keeps or drops the lines between; directive lines
 *       themselves are dropped.
 * </ul>
 *
 * Anything else that Velocity would read as a directive ({@code ##}, {@code #set}, {@code #foreach}, ...)
 * is refused, so that a template edited for one renderer does not silently differ in the other.
 */
final class Template {
  private static final Pattern IF =
      Pattern.compile("#if\\(\\s*\\$\\{?([A-Za-z][A-Za-z0-9]*)\\}?\\s*(==|!=)\\s*\"([^\"]*)\"\\s*\\)");
  private static final Pattern REFERENCE = Pattern.compile("\\$\\{([A-Za-z][A-Za-z0-9]*)\\}|\\$([A-Za-z][A-Za-z0-9]*)");
  private static final Pattern OTHER_DIRECTIVE =
      Pattern.compile("##|#\\{?(set|foreach|include|parse|macro|stop|break|define|evaluate|elseif)\\b");

  private Template() {}

  /**
   * @param name the template's name, for errors
   * @param text the template
   * @param properties the values of its names (every name a condition tests must be here)
   * @return the rendered text
   * @throws IllegalArgumentException if the template uses what this renderer does not do
   */
  static String render(String name, String text, Map<String, String> properties) {
    StringBuilder out = new StringBuilder(text.length());
    Deque<boolean[]> open = new ArrayDeque<>(); // each: {this branch kept, the enclosing block kept}
    boolean keep = true;
    int lineNo = 0;
    for (String line : text.split("(?<=\n)", -1)) {
      lineNo++;
      String t = line.strip();
      Matcher m = IF.matcher(t);
      if (m.matches()) {
        String value = properties.get(m.group(1));
        if (value == null) {
          throw new IllegalArgumentException(name + ":" + lineNo + ": no property '" + m.group(1) + "'");
        }
        boolean holds = m.group(2).equals("==") == value.equals(m.group(3));
        open.push(new boolean[] {holds, keep});
        keep = keep && holds;
      } else if (t.equals("#else")) {
        boolean[] top = requireOpen(open, name, lineNo, t);
        top[0] = !top[0];
        keep = top[1] && top[0];
      } else if (t.equals("#end")) {
        keep = requireOpen(open, name, lineNo, t)[1];
        open.pop();
      } else if (t.startsWith("#if") || OTHER_DIRECTIVE.matcher(line).find()) {
        throw new IllegalArgumentException(name + ":" + lineNo + ": not a directive skiff new renders: " + t);
      } else if (keep) {
        out.append(substitute(line, properties));
      }
    }
    if (!open.isEmpty()) {
      throw new IllegalArgumentException(name + ": an #if has no #end");
    }
    return out.toString();
  }

  /**
   * @param text a file name or text
   * @param properties the values of names
   * @return the text with each {@code ${name}} and {@code $name} of a known name replaced by its value
   */
  static String substitute(String text, Map<String, String> properties) {
    Matcher m = REFERENCE.matcher(text);
    StringBuilder out = new StringBuilder(text.length());
    while (m.find()) {
      String key = m.group(1) != null ? m.group(1) : m.group(2);
      String value = properties.get(key);
      m.appendReplacement(out, Matcher.quoteReplacement(value != null ? value : m.group()));
    }
    m.appendTail(out);
    return out.toString();
  }

  private static boolean[] requireOpen(Deque<boolean[]> open, String name, int lineNo, String directive) {
    if (open.isEmpty()) {
      throw new IllegalArgumentException(name + ":" + lineNo + ": " + directive + " without #if");
    }
    return Objects.requireNonNull(open.peek());
  }
}
