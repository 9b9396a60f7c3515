// The consumer's test ran and passed (surefire already fails the build on a failure; this also
// catches a build that ran no test at all).
def report = new File(basedir,
    'target/surefire-reports/TEST-com.example.consumer.OkHttpConsumerTest.xml')
assert report.isFile() : "no test report at ${report}"
def suite = new groovy.xml.XmlSlurper().parse(report)
assert suite.@tests.toInteger() >= 1 : "the consumer ran no test"
assert suite.@failures.toInteger() == 0 && suite.@errors.toInteger() == 0
