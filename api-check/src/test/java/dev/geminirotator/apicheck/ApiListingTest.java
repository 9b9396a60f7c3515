package dev.geminirotator.apicheck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ApiListingTest {

  @TempDir Path dir;

  private String listing(Map<String, String> sources) throws IOException {
    return ApiListing.generate(JavaSources.compile(dir, sources));
  }

  private String listing(String name, Map<String, String> sources) throws IOException {
    return ApiListing.generate(JavaSources.compile(dir.resolve(name), sources));
  }

  @Test
  void listsGenericSignaturesVarargsThrowsAndSupertypes() throws IOException {
    String listing = listing(Map.of("p/Box.java", """
        package p;
        import java.io.IOException;
        import java.util.*;
        public abstract class Box<T extends Comparable<T>> implements Iterable<T>, java.io.Serializable {
          protected Box(List<? extends T> items) {}
          public abstract <R> Map<String, ? super R> map(Collection<R> in, String... names)
              throws IOException, IllegalStateException;
          public static int count(int[]... rows) { return 0; }
          protected final void touch() {}
        }
        """));

    assertThat(listing).isEqualTo("""
        public abstract class p.Box<T extends java.lang.Comparable<T>> implements java.lang.Iterable<T>, java.io.Serializable {
          protected Box(java.util.List<? extends T>)
          public static int count(int[]...)
          public abstract <R> java.util.Map<java.lang.String, ? super R> map(java.util.Collection<R>, java.lang.String...) throws java.io.IOException, java.lang.IllegalStateException
          protected final void touch()
        }
        """);
  }

  @Test
  void listsConstantValuesOfFieldsExactly() throws IOException {
    String listing = listing(Map.of("p/Limits.java", """
        package p;
        public final class Limits {
          public static final int MAX = 1000;
          public static final long WINDOW = 60_000L;
          public static final double RATIO = 0.1;
          public static final float HALF = 0.5f;
          public static final boolean ON = true;
          public static final char SEP = '\\n';
          public static final String NAME = "a\\"b\\u00e9";
          public static final Object NOT_CONSTANT = new Object();
          public int counter;
          private Limits() {}
        }
        """));

    assertThat(listing).isEqualTo("""
        public final class p.Limits {
          public static final float HALF = 0.5F
          public static final int MAX = 1000
          public static final java.lang.String NAME = "a\\"b\\u00e9"
          public static final java.lang.Object NOT_CONSTANT
          public static final boolean ON = true
          public static final double RATIO = 0.1
          public static final char SEP = '\\n'
          public static final long WINDOW = 60000L
          public int counter
        }
        """);
  }

  @Test
  void leavesOutWhatUsersCannotReach() throws IOException {
    String listing = listing(Map.of(
        "p/Shown.java", """
            package p;
            public final class Shown implements Comparable<Shown> {
              public int compareTo(Shown other) { return 0; }    // javac adds a bridge
              protected void finalOnly() {}                       // a final class: unreachable
              void packagePrivate() {}
              private void hidden() {}
              public Runnable task() { return new Runnable() { public void run() {} }; }
              private static final class PrivateNested { public void x() {} }
              static class PackageNested { public void y() {} }
              public static final class Nested { public void z() {} }
              static { System.out.println("static initialiser"); }
            }
            """,
        "p/PackagePrivate.java", "package p; class PackagePrivate { public void w() {} }",
        "p/internal/Impl.java", "package p.internal; public class Impl { public void v() {} }"));

    assertThat(listing).isEqualTo("""
        public final class p.Shown implements java.lang.Comparable<p.Shown> {
          public Shown()
          public int compareTo(p.Shown)
          public java.lang.Runnable task()
        }

        public static final class p.Shown$Nested {
          public Nested()
          public void z()
        }
        """);
  }

  @Test
  void listsProtectedNestedTypesOnlyOfExtensibleTypes() throws IOException {
    String listing = listing(Map.of(
        "p/Open.java", """
            package p;
            public class Open {
              protected static class Hook { public void h() {} }
            }
            """,
        "p/Closed.java", """
            package p;
            public final class Closed {
              protected static class Hook { public void h() {} }
              private Closed() {}
            }
            """));

    assertThat(listing).contains("protected static class p.Open$Hook {")
        .doesNotContain("p.Closed$Hook");
  }

  @Test
  void listsEnumConstantsAndRecordComponentsInDeclarationOrder() throws IOException {
    String listing = listing(Map.of(
        "p/Level.java", """
            package p;
            public enum Level {
              LOW, HIGH { @Override public String label() { return "h"; } }, MEDIUM;
              public String label() { return name(); }
            }
            """,
        "p/Pair.java", "package p; public record Pair<A>(String zeta, A alpha) {}",
        "p/Shape.java", """
            package p;
            public sealed interface Shape permits Shape.Circle, Shape.Square, Shape.Hidden {
              record Circle(double r) implements Shape {}
              record Square(double side) implements Shape {}
              final class Hidden implements Shape {}
            }
            """,
        "p/Marker.java", """
            package p;
            @java.lang.annotation.Retention(java.lang.annotation.RetentionPolicy.RUNTIME)
            public @interface Marker {
              String value() default "x";
              int[] sizes() default {1, 2};
              Level level() default Level.LOW;
            }
            """));

    assertThat(listing).contains("""
        public enum p.Level {
          enum constant LOW
          enum constant HIGH
          enum constant MEDIUM
          public java.lang.String label()
          public static p.Level valueOf(java.lang.String)
          public static p.Level[] values()
        }
        """).contains("""
        public record p.Pair<A> {
          record component java.lang.String zeta
          record component A alpha
          public Pair(java.lang.String, A)
          public A alpha()
        """).contains("""
        public @interface p.Marker {
          public abstract p.Level level() default p.Level.LOW
          public abstract int[] sizes() default {1, 2}
          public abstract java.lang.String value() default "x"
        }
        """).contains("public sealed interface p.Shape permits p.Shape$Circle, p.Shape$Hidden,"
            + " p.Shape$Square {")
        .contains("public static record p.Shape$Circle implements p.Shape {")
        .doesNotContain("Level$1");
  }

  @Test
  void listsMembersOfAPackagePrivateBaseClassUnderThePublicSubclass() throws IOException {
    String listing = listing(Map.of(
        "p/Base.java", """
            package p;
            abstract class Base implements AutoCloseable {
              public static final int LIMIT = 3;
              public String name() { return "base"; }
              public String overridden() { return "base"; }
              public void close() {}
            }
            """,
        "p/Client.java", """
            package p;
            public final class Client extends Base {
              @Override public String overridden() { return "client"; }
            }
            """));

    assertThat(listing).isEqualTo("""
        public final class p.Client implements java.lang.AutoCloseable {
          public static final int LIMIT = 3
          public Client()
          public void close()
          public java.lang.String name()
          public java.lang.String overridden()
        }
        """);
  }

  @Test
  void aCovariantOverrideHidesTheSuperclassMethodItsBridgeOverrides() throws IOException {
    String listing = listing(Map.of(
        "p/Base.java", """
            package p;
            public class Base {
              public Base copy() { return this; }
              public int size = 0;
            }
            """,
        "p/Sub.java", """
            package p;
            public class Sub extends Base {
              @Override public Sub copy() { return this; }
              private long size = 1;
            }
            """));

    assertThat(listing).contains("""
        public class p.Sub extends p.Base {
          public Sub()
          public p.Sub copy()
        }
        """);
  }

  @Test
  void aMethodMovedUpToASuperclassOfTheModuleStaysListedOnTheSubclass() throws IOException {
    String before = listing("before", Map.of(
        "p/Parent.java", "package p; public class Parent {}",
        "p/Child.java", "package p; public class Child extends Parent { public void run() {} }"));
    String after = listing("after", Map.of(
        "p/Parent.java", "package p; public class Parent { public void run() {} }",
        "p/Child.java", "package p; public class Child extends Parent {}"));

    assertThat(ApiDiff.changes(before, after)).containsExactly(
        "~ p.Parent",
        "    + public void run()");
  }

  @Test
  void bodiesAndPrivateMembersDoNotChangeTheListing() throws IOException {
    String before = listing("before", Map.of("p/Service.java", """
        package p;
        public class Service {
          private int calls;
          public int call(int x) { return x + 1; }
        }
        """));
    String after = listing("after", Map.of("p/Service.java", """
        package p;
        public class Service {
          private final java.util.List<String> log = new java.util.ArrayList<>();
          private static String helper(String s) { return s.strip(); }
          public int call(int x) { log.add(helper(" " + x)); return x * 2; }
          void packageHelper() {}
        }
        """));

    assertThat(after).isEqualTo(before);
  }

  @Test
  void aNewPublicMethodOrChangedConstantChangesTheListing() throws IOException {
    String before = listing("before", Map.of("p/Service.java", """
        package p;
        public class Service {
          public static final int RETRIES = 3;
          public int call(int x) { return x; }
        }
        """));
    String after = listing("after", Map.of("p/Service.java", """
        package p;
        public class Service {
          public static final int RETRIES = 4;
          public int call(int x) { return x; }
          public int call(long x) { return 0; }
        }
        """));

    assertThat(ApiDiff.changes(before, after)).containsExactly(
        "~ p.Service",
        "    - public static final int RETRIES = 3",
        "    + public static final int RETRIES = 4",
        "    + public int call(long)");
  }

  @Test
  void deprecationIsPartOfTheListing() throws IOException {
    String listing = listing(Map.of("p/Old.java", """
        package p;
        @Deprecated
        public interface Old {
          @Deprecated int LIMIT = 2;
          @Deprecated void run();
          void walk();
        }
        """));

    assertThat(listing).isEqualTo("""
        @Deprecated public interface p.Old {
          @Deprecated public static final int LIMIT = 2
          @Deprecated public abstract void run()
          public abstract void walk()
        }
        """);
  }

  @Test
  void refusesAPathThatIsNotADirectory() {
    Path missing = dir.resolve("no-such-classes");

    assertThatThrownBy(() -> ApiListing.generate(missing))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("classesDir must be a directory")
        .hasMessageContaining("no-such-classes");
  }

  @Test
  void internalPackagesAreThoseWithAnInternalSegment() {
    assertThat(ApiListing.isInternalPackage("dev/x/internal/Foo")).isTrue();
    assertThat(ApiListing.isInternalPackage("dev/x/internal/exchange/Foo")).isTrue();
    assertThat(ApiListing.isInternalPackage("dev/x/internals/Foo")).isFalse();
    assertThat(ApiListing.isInternalPackage("dev/x/Internal")).isFalse();
  }
}
