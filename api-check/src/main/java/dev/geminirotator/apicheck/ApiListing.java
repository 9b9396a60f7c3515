package dev.geminirotator.apicheck;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.math.MathContext;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.objectweb.asm.ClassReader;
import org.objectweb.asm.Opcodes;
import org.objectweb.asm.Type;
import org.objectweb.asm.signature.SignatureReader;
import org.objectweb.asm.signature.SignatureVisitor;
import org.objectweb.asm.tree.AnnotationNode;
import org.objectweb.asm.tree.ClassNode;
import org.objectweb.asm.tree.FieldNode;
import org.objectweb.asm.tree.InnerClassNode;
import org.objectweb.asm.tree.MethodNode;
import org.objectweb.asm.tree.RecordComponentNode;
import org.objectweb.asm.util.TraceSignatureVisitor;

/**
 * Produces the public API listing of one module from its compiled classes: every public or
 * protected type outside packages with an {@code internal} segment, with its kind, modifiers,
 * generic supertypes, and its public and protected members, in a stable order.
 *
 * <p>The listing is read from class files with ASM, so no class is loaded or initialised and no
 * line depends on the JDK that runs it. What a user of the module can see is what is listed:
 *
 * <ul>
 *   <li>a nested type only when it and every type enclosing it are visible (a protected nested
 *       type only inside an extensible type);
 *   <li>protected members only of types a user can extend (not final, not sealed, not an enum or
 *       record);
 *   <li>members a class inherits from superclasses of the same module, public or not, under the
 *       class itself as well, so that moving a method up to a superclass changes no line of the
 *       subclass, and a public method of a package-private base class is listed where users call
 *       it;
 *   <li>compile-time constant values of fields, enum constants and record components in
 *       declaration order (their order is API: ordinals, canonical constructors);
 *   <li>no synthetic or bridge members, no private or package-private ones, no static
 *       initialisers.
 * </ul>
 *
 * <p>Instances are not created; the class is stateless and thread-safe.
 */
public final class ApiListing {

  private static final int ASM_API = Opcodes.ASM9;

  private ApiListing() {}

  /**
   * Returns the listing of the classes under {@code classesDir} (a {@code target/classes}
   * directory): one block per visible type, types sorted by binary name, each block ending with
   * a line {@code }}, an empty line between blocks.
   *
   * @throws UncheckedIOException when a class file cannot be read
   * @throws IllegalArgumentException when {@code classesDir} is not a directory
   */
  public static String generate(Path classesDir) {
    if (!Files.isDirectory(classesDir)) {
      throw new IllegalArgumentException(
          "classesDir must be a directory of compiled classes but was " + classesDir);
    }
    Map<String, ClassNode> classes = read(classesDir);
    StringBuilder out = new StringBuilder();
    for (ClassNode type : classes.values()) {
      if (isVisibleType(type, classes)) {
        render(type, classes, out);
      }
    }
    return out.toString();
  }

  private static Map<String, ClassNode> read(Path classesDir) {
    Map<String, ClassNode> classes = new TreeMap<>();
    try (Stream<Path> files = Files.walk(classesDir)) {
      for (Path file : files.filter(ApiListing::isClassFile).collect(Collectors.toList())) {
        try (InputStream in = Files.newInputStream(file)) {
          ClassNode node = new ClassNode(ASM_API);
          new ClassReader(in).accept(node, ClassReader.SKIP_CODE | ClassReader.SKIP_FRAMES);
          classes.put(node.name, node);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the classes under " + classesDir, e);
    }
    return classes;
  }

  private static boolean isClassFile(Path file) {
    String name = file.getFileName().toString();
    return name.endsWith(".class")
        && !name.equals("module-info.class")
        && !name.equals("package-info.class");
  }

  // ---- which types and members are visible

  /** Whether {@code internalName} lies in a package with an {@code internal} segment. */
  static boolean isInternalPackage(String internalName) {
    int slash = internalName.lastIndexOf('/');
    String pkg = slash < 0 ? "" : internalName.substring(0, slash);
    for (String segment : pkg.split("/")) {
      if (segment.equals("internal")) {
        return true;
      }
    }
    return false;
  }

  private static boolean isVisibleType(ClassNode type, Map<String, ClassNode> classes) {
    if (isInternalPackage(type.name) || (type.access & Opcodes.ACC_SYNTHETIC) != 0) {
      return false;
    }
    if (type.outerMethod != null || type.outerClass != null) {
      return false; // local or anonymous
    }
    InnerClassNode self = innerEntry(type);
    if (self == null) {
      return (type.access & Opcodes.ACC_PUBLIC) != 0;
    }
    if (self.outerName == null) {
      return false; // local or anonymous
    }
    ClassNode outer = classes.get(self.outerName);
    if (outer == null || !isVisibleType(outer, classes)) {
      return false;
    }
    if ((self.access & Opcodes.ACC_PUBLIC) != 0) {
      return true;
    }
    return (self.access & Opcodes.ACC_PROTECTED) != 0 && isExtensible(outer);
  }

  private static InnerClassNode innerEntry(ClassNode type) {
    for (InnerClassNode inner : type.innerClasses) {
      if (inner.name.equals(type.name)) {
        return inner;
      }
    }
    return null;
  }

  /** The type's access as its source declared it (nested types: from the InnerClasses entry). */
  private static int declaredAccess(ClassNode type) {
    InnerClassNode self = innerEntry(type);
    int access = self == null ? type.access : self.access;
    return access | (type.access & (Opcodes.ACC_DEPRECATED | Opcodes.ACC_RECORD));
  }

  /** Whether a user can subclass the type, and so reach its protected members. */
  private static boolean isExtensible(ClassNode type) {
    int access = declaredAccess(type);
    return (access & (Opcodes.ACC_FINAL | Opcodes.ACC_ENUM | Opcodes.ACC_RECORD)) == 0
        && (access & Opcodes.ACC_INTERFACE) == 0
        && isNullOrEmpty(type.permittedSubclasses);
  }

  private static boolean isVisibleMember(int access, boolean extensible) {
    if ((access & (Opcodes.ACC_SYNTHETIC | Opcodes.ACC_BRIDGE)) != 0) {
      return false;
    }
    return (access & Opcodes.ACC_PUBLIC) != 0
        || ((access & Opcodes.ACC_PROTECTED) != 0 && extensible);
  }

  // ---- rendering

  private static void render(ClassNode type, Map<String, ClassNode> classes, StringBuilder out) {
    int access = declaredAccess(type);
    boolean extensible = isExtensible(type);
    boolean isInterface = (access & Opcodes.ACC_INTERFACE) != 0;

    if (out.length() > 0) {
      out.append('\n'); // an empty line between blocks, none at the end of the file
    }
    out.append(typeHeader(type, access, classes)).append(" {\n");

    // enum constants and record components: declaration order is part of the API
    for (FieldNode field : type.fields) {
      if ((field.access & Opcodes.ACC_ENUM) != 0) {
        out.append("  ").append(deprecated(field.access)).append("enum constant ")
            .append(field.name).append('\n');
      }
    }
    if (type.recordComponents != null) {
      for (RecordComponentNode component : type.recordComponents) {
        out.append("  record component ")
            .append(typeText(component.signature, component.descriptor))
            .append(' ').append(component.name).append('\n');
      }
    }

    List<String> fields = new ArrayList<>();
    List<String> constructors = new ArrayList<>();
    List<Member> methods = new ArrayList<>();
    Set<String> seenMethods = new HashSet<>();
    Set<String> seenFields = new HashSet<>();
    for (ClassNode owner = type; owner != null; owner = sameModuleSuperclass(owner, classes)) {
      boolean declaring = owner == type;
      for (FieldNode field : owner.fields) {
        // a field of any access hides a superclass field of that name
        boolean hidden = !seenFields.add(field.name);
        if (hidden
            || (field.access & Opcodes.ACC_ENUM) != 0
            || !isVisibleMember(field.access, extensible)) {
          continue;
        }
        fields.add(field(field));
      }
      for (MethodNode method : owner.methods) {
        if (isVisibilityBridge(method, owner)) {
          continue; // stands for the superclass method it calls, which is listed
        }
        // a method of the subclass, a covariant bridge included, overrides the superclass's
        boolean overridden = !seenMethods.add(method.name + method.desc);
        if (overridden
            || method.name.equals("<clinit>")
            || (method.name.equals("<init>") && !declaring)
            || !isVisibleMember(method.access, extensible)) {
          continue;
        }
        if (method.name.equals("<init>")) {
          constructors.add(method(type, method, isInterface));
        } else {
          methods.add(new Member(method.name, method(type, method, isInterface)));
        }
      }
    }
    fields.stream().sorted(Comparator.comparing(ApiListing::memberName).thenComparing(s -> s))
        .forEach(line -> out.append("  ").append(line).append('\n'));
    constructors.stream().sorted()
        .forEach(line -> out.append("  ").append(line).append('\n'));
    methods.stream()
        .sorted(Comparator.comparing(Member::name).thenComparing(Member::line))
        .forEach(member -> out.append("  ").append(member.line()).append('\n'));
    out.append("}\n");
  }

  private record Member(String name, String line) {}

  /**
   * A bridge javac adds to a public class for a public method it inherits from a package-private
   * superclass: unlike a covariant or generic bridge, no method of the class takes the same
   * parameters.
   */
  private static boolean isVisibilityBridge(MethodNode method, ClassNode owner) {
    if ((method.access & Opcodes.ACC_BRIDGE) == 0) {
      return false;
    }
    String parameters = method.desc.substring(0, method.desc.indexOf(')') + 1);
    for (MethodNode other : owner.methods) {
      if (other != method
          && (other.access & Opcodes.ACC_BRIDGE) == 0
          && other.name.equals(method.name)
          && other.desc.startsWith(parameters)) {
        return false;
      }
    }
    return true;
  }

  private static String memberName(String fieldLine) {
    int equals = fieldLine.indexOf(" = ");
    String declaration = equals < 0 ? fieldLine : fieldLine.substring(0, equals);
    return declaration.substring(declaration.lastIndexOf(' ') + 1);
  }

  /** The superclass whose members a user reaches through {@code type}, if it is in the module. */
  private static ClassNode sameModuleSuperclass(ClassNode type, Map<String, ClassNode> classes) {
    return type.superName == null ? null : classes.get(type.superName);
  }

  private static String typeHeader(ClassNode type, int access, Map<String, ClassNode> classes) {
    StringBuilder header = new StringBuilder(deprecated(access));
    header.append((access & Opcodes.ACC_PUBLIC) != 0 ? "public " : "protected ");
    if (innerEntry(type) != null && (access & Opcodes.ACC_STATIC) != 0) {
      header.append("static ");
    }
    boolean sealed = !isNullOrEmpty(type.permittedSubclasses);
    String kind;
    if ((access & Opcodes.ACC_ANNOTATION) != 0) {
      kind = "@interface";
    } else if ((access & Opcodes.ACC_INTERFACE) != 0) {
      kind = "interface";
    } else if ((access & Opcodes.ACC_ENUM) != 0) {
      kind = "enum";
    } else if ((access & Opcodes.ACC_RECORD) != 0) {
      kind = "record";
    } else {
      kind = "class";
      if ((access & Opcodes.ACC_ABSTRACT) != 0) {
        header.append("abstract ");
      }
      if ((access & Opcodes.ACC_FINAL) != 0) {
        header.append("final ");
      }
    }
    if (sealed && !kind.equals("enum")) { // javac seals an enum whose constants have bodies
      header.append("sealed ");
    }
    header.append(kind).append(' ').append(javaName(type.name));

    Supertypes supertypes = supertypes(type);
    header.append(supertypes.formals);
    List<String> interfaces = new ArrayList<>(supertypes.interfaces);
    String superclass = supertypes.superclass;
    // a superclass users cannot see: show the nearest visible one and the interfaces on the way
    ClassNode hidden = classes.get(type.superName);
    while (hidden != null && !isVisibleType(hidden, classes)) {
      Supertypes above = supertypes(hidden);
      superclass = above.superclass;
      interfaces.addAll(above.interfaces);
      hidden = classes.get(hidden.superName);
    }
    interfaces.removeIf(name -> isHiddenInterface(name, classes));
    if (kind.equals("class") && superclass != null && !superclass.equals("java.lang.Object")) {
      header.append(" extends ").append(superclass);
    }
    if (!interfaces.isEmpty()) {
      boolean isInterface = (access & Opcodes.ACC_INTERFACE) != 0;
      String keyword = isInterface ? " extends " : " implements ";
      if (kind.equals("@interface")) {
        interfaces.remove("java.lang.annotation.Annotation");
      }
      if (!interfaces.isEmpty()) {
        header.append(keyword).append(String.join(", ", new LinkedHashSet<>(interfaces)));
      }
    }
    if (sealed) {
      List<String> permitted = type.permittedSubclasses.stream()
          .filter(name -> classes.containsKey(name) && isVisibleType(classes.get(name), classes))
          .map(ApiListing::javaName)
          .sorted()
          .collect(Collectors.toList());
      if (!permitted.isEmpty()) {
        header.append(" permits ").append(String.join(", ", permitted));
      }
    }
    return header.toString();
  }

  private static boolean isHiddenInterface(String javaName, Map<String, ClassNode> classes) {
    int generic = javaName.indexOf('<');
    String erased = generic < 0 ? javaName : javaName.substring(0, generic);
    ClassNode node = classes.get(erased.replace('.', '/'));
    return node != null && !isVisibleType(node, classes);
  }

  private record Supertypes(String formals, String superclass, List<String> interfaces) {}

  private static Supertypes supertypes(ClassNode type) {
    if (type.signature == null) {
      List<String> interfaces = type.interfaces.stream()
          .map(ApiListing::javaName)
          .collect(Collectors.toList());
      String superclass = type.superName == null ? null : javaName(type.superName);
      return new Supertypes("", superclass, interfaces);
    }
    TraceSignatureVisitor formals = new TraceSignatureVisitor(0);
    List<TraceSignatureVisitor> superclass = new ArrayList<>();
    List<TraceSignatureVisitor> interfaces = new ArrayList<>();
    new SignatureReader(type.signature).accept(new SignatureVisitor(ASM_API) {
      @Override
      public void visitFormalTypeParameter(String name) {
        formals.visitFormalTypeParameter(name);
      }

      @Override
      public SignatureVisitor visitClassBound() {
        return formals.visitClassBound();
      }

      @Override
      public SignatureVisitor visitInterfaceBound() {
        return formals.visitInterfaceBound();
      }

      @Override
      public SignatureVisitor visitSuperclass() {
        TraceSignatureVisitor visitor = new TraceSignatureVisitor(0);
        superclass.add(visitor);
        return visitor;
      }

      @Override
      public SignatureVisitor visitInterface() {
        TraceSignatureVisitor visitor = new TraceSignatureVisitor(0);
        interfaces.add(visitor);
        return visitor;
      }
    });
    formals.visitSuperclass(); // closes the formal type parameters
    return new Supertypes(
        formals.getDeclaration(),
        superclass.isEmpty() ? null : objectIfBare(superclass.get(0).getDeclaration()),
        interfaces.stream().map(visitor -> objectIfBare(visitor.getDeclaration()))
            .collect(Collectors.toList()));
  }

  private static String field(FieldNode field) {
    StringBuilder line = new StringBuilder(deprecated(field.access));
    line.append(visibility(field.access));
    if ((field.access & Opcodes.ACC_STATIC) != 0) {
      line.append("static ");
    }
    if ((field.access & Opcodes.ACC_FINAL) != 0) {
      line.append("final ");
    }
    if ((field.access & Opcodes.ACC_VOLATILE) != 0) {
      line.append("volatile ");
    }
    if ((field.access & Opcodes.ACC_TRANSIENT) != 0) {
      line.append("transient ");
    }
    line.append(typeText(field.signature, field.desc)).append(' ').append(field.name);
    if (field.value != null) {
      line.append(" = ").append(constant(field.value, field.desc));
    }
    return line.toString();
  }

  private static String method(ClassNode type, MethodNode method, boolean inInterface) {
    StringBuilder line = new StringBuilder(deprecated(method.access));
    line.append(visibility(method.access));
    boolean isStatic = (method.access & Opcodes.ACC_STATIC) != 0;
    boolean isAbstract = (method.access & Opcodes.ACC_ABSTRACT) != 0;
    if (isAbstract) {
      line.append("abstract ");
    } else if (inInterface && !isStatic) {
      line.append("default ");
    }
    if (isStatic) {
      line.append("static ");
    }
    if ((method.access & Opcodes.ACC_FINAL) != 0) {
      line.append("final ");
    }

    TraceSignatureVisitor signature = new TraceSignatureVisitor(method.access);
    String source = method.signature != null ? method.signature : method.desc;
    new SignatureReader(source).accept(signature);
    String declaration = signature.getDeclaration();
    int open = declaration.indexOf('(');
    String formals = declaration.substring(0, open);
    String parameters = declaration.substring(open);
    if ((method.access & Opcodes.ACC_VARARGS) != 0 && parameters.endsWith("[])")) {
      parameters = parameters.substring(0, parameters.length() - 3) + "...)";
    }
    if (!formals.isEmpty()) {
      line.append(formals).append(' ');
    }
    if (method.name.equals("<init>")) {
      String simple = type.name.substring(type.name.lastIndexOf('/') + 1);
      line.append(simple.substring(simple.lastIndexOf('$') + 1));
    } else {
      line.append(objectIfBare(signature.getReturnType())).append(' ').append(method.name);
    }
    line.append(parameters);

    List<String> thrown = new ArrayList<>();
    if (signature.getExceptions() != null) {
      for (String exception : signature.getExceptions().split(", ")) {
        thrown.add(exception);
      }
    } else if (method.exceptions != null) {
      method.exceptions.forEach(exception -> thrown.add(javaName(exception)));
    }
    if (!thrown.isEmpty()) {
      line.append(" throws ").append(thrown.stream().sorted().collect(Collectors.joining(", ")));
    }
    if (method.annotationDefault != null) {
      line.append(" default ").append(annotationValue(method.annotationDefault));
    }
    return line.toString();
  }

  private static String visibility(int access) {
    return (access & Opcodes.ACC_PUBLIC) != 0 ? "public " : "protected ";
  }

  private static String deprecated(int access) {
    return (access & Opcodes.ACC_DEPRECATED) != 0 ? "@Deprecated " : "";
  }

  private static String typeText(String signature, String descriptor) {
    TraceSignatureVisitor visitor = new TraceSignatureVisitor(0);
    new SignatureReader(signature != null ? signature : descriptor).acceptType(visitor);
    return objectIfBare(visitor.getDeclaration());
  }

  /**
   * {@link TraceSignatureVisitor} leaves out {@code java.lang.Object} where it stands alone (a
   * field, return or supertype, as in {@code class Foo<K extends Object>}); no Java type's text
   * is empty or starts with {@code [}, so that is where it was left out.
   */
  private static String objectIfBare(String type) {
    return type.isEmpty() || type.startsWith("[") ? "java.lang.Object" + type : type;
  }

  private static String javaName(String internalName) {
    return internalName.replace('/', '.');
  }

  private static boolean isNullOrEmpty(List<?> list) {
    return list == null || list.isEmpty();
  }

  // ---- constant values, rendered the same on every JDK

  static String constant(Object value, String descriptor) {
    switch (descriptor) {
      case "Z":
        return ((Integer) value) != 0 ? "true" : "false";
      case "C":
        return "'" + escape(String.valueOf((char) ((Integer) value).intValue()), '\'') + "'";
      case "J":
        return value + "L";
      case "F":
        return shortest(new BigDecimal((Float) value), 9, v -> v.floatValue() == (Float) value)
            + "F";
      case "D":
        return shortest(new BigDecimal((Double) value), 17,
            v -> v.doubleValue() == (Double) value);
      case "Ljava/lang/String;":
        return '"' + escape((String) value, '"') + '"';
      default:
        return String.valueOf(value);
    }
  }

  /**
   * The fewest significant digits that read back as the same value. Computed with exact decimal
   * arithmetic, so it does not depend on how a JDK's {@code Double.toString} rounds.
   */
  private static String shortest(
      BigDecimal exact, int maxDigits, java.util.function.Predicate<BigDecimal> same) {
    if (exact.signum() == 0) {
      return "0.0";
    }
    for (int digits = 1; digits < maxDigits; digits++) {
      BigDecimal rounded = exact.round(new MathContext(digits));
      if (same.test(rounded)) {
        return plain(rounded);
      }
    }
    return plain(exact.round(new MathContext(maxDigits)));
  }

  private static String plain(BigDecimal value) {
    String text = value.stripTrailingZeros().toPlainString();
    return text.contains(".") ? text : text + ".0";
  }

  private static String escape(String text, char quote) {
    StringBuilder out = new StringBuilder();
    for (char c : text.toCharArray()) {
      if (c == quote || c == '\\') {
        out.append('\\').append(c);
      } else if (c == '\n') {
        out.append("\\n");
      } else if (c == '\r') {
        out.append("\\r");
      } else if (c == '\t') {
        out.append("\\t");
      } else if (c < 0x20 || c > 0x7e) {
        out.append(String.format("\\u%04x", (int) c));
      } else {
        out.append(c);
      }
    }
    return out.toString();
  }

  private static String annotationValue(Object value) {
    if (value instanceof String text) {
      return '"' + escape(text, '"') + '"';
    }
    if (value instanceof Type type) {
      return type.getClassName() + ".class";
    }
    if (value instanceof String[] enumConstant) {
      return javaName(Type.getType(enumConstant[0]).getInternalName()) + "." + enumConstant[1];
    }
    if (value instanceof AnnotationNode annotation) {
      return "@" + Type.getType(annotation.desc).getClassName();
    }
    if (value instanceof List<?> list) {
      return list.stream().map(ApiListing::annotationValue)
          .collect(Collectors.joining(", ", "{", "}"));
    }
    if (value instanceof Character c) {
      return "'" + escape(String.valueOf(c), '\'') + "'";
    }
    if (value.getClass().isArray()) {
      List<Object> items = new ArrayList<>();
      for (int i = 0; i < java.lang.reflect.Array.getLength(value); i++) {
        items.add(java.lang.reflect.Array.get(value, i));
      }
      return annotationValue(items);
    }
    return String.valueOf(value);
  }
}
