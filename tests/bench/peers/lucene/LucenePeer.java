// Apache Lucene 9.12.3 as a keyword_bench peer: one index, built and queried over the peer
// protocol of tests/bench/peer_process.h (requests on stdin, replies on stdout, UTF-8 lines).
//
//   java -cp 'lib/*:classes' LucenePeer VARIANT INDEX_DIR
//
// Variants (each what a Lucene, Elasticsearch or OpenSearch user would configure for Korean):
//   nori         field `body` analysed by KoreanAnalyzer with decompound mode MIXED (the
//                Elasticsearch nori_tokenizer default: a compound and its parts) and the default
//                part-of-speech stop tags (particles, endings, punctuation dropped).
//   nori-bigram  `body` as above plus `body_bigram` analysed by CJKAnalyzer (Hangul bigrams,
//                the usual second sub-field for recall); the query is an OR over both fields.
//   ngram        `body` by StandardTokenizer, lower-cased, then every 1- and 2-character gram
//                of each word plus the word itself (an n-gram index of the kind Xapian and our
//                own analyzer use); queried as an OR of the query's grams (see gramQuery).
// Variants of documents with a title (request `build-fields`), each with nori and bigram
// sub-fields as nori-bigram has them, for `title` and `body`:
//   nori-bigram-fields   the OR of every field's query: each field scored by its own BM25 and
//                        the scores added (Elasticsearch's multi_match `most_fields`).
//   nori-bigram-bm25f    the same query, each term (or group of same-position terms) one
//                        CombinedFieldQuery (BM25F: a term's frequencies in title and body
//                        added, with the fields' lengths, before saturating once) over title +
//                        body, and each bigram over their bigram fields (Elasticsearch's
//                        `combined_fields`).
//   nori-bigram-concat   nori-bigram over one field of the title and the body joined: what the
//                        fields are measured against, with the same text.
//   ...-title2           the same with the title fields weighted 2 (a boost; in BM25F a weight
//                        on the title's term frequency and length).
// Every variant scores with Lucene's default BM25 (k1 1.2, b 0.75). A nori query is what
// QueryBuilder makes of the query text (the OR of its analysed terms, a compound and its parts
// as one SynonymQuery), which is what a `match` query with operator `or` does in Elasticsearch.
//
// Timing is done here, inside the JVM, so that the pipe to keyword_bench costs nothing in the
// q/s figure; before a timed batch the peer runs the same queries once untimed (at most 10 s)
// so that the figure is the JIT-compiled speed a long-running server has.

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.LowerCaseFilter;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.Tokenizer;
import org.apache.lucene.analysis.cjk.CJKAnalyzer;
import org.apache.lucene.analysis.ko.KoreanAnalyzer;
import org.apache.lucene.analysis.ko.KoreanPartOfSpeechStopFilter;
import org.apache.lucene.analysis.ko.KoreanTokenizer;
import org.apache.lucene.analysis.miscellaneous.PerFieldAnalyzerWrapper;
import org.apache.lucene.analysis.ngram.NGramTokenFilter;
import org.apache.lucene.analysis.standard.StandardTokenizer;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.NumericDocValuesField;
import org.apache.lucene.document.TextField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.NumericDocValues;
import org.apache.lucene.index.Term;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.store.Directory;
import org.apache.lucene.sandbox.search.CombinedFieldQuery;
import org.apache.lucene.search.BoostQuery;
import org.apache.lucene.store.FSDirectory;
import org.apache.lucene.util.QueryBuilder;

public final class LucenePeer {
  private final String variant;
  private final Path indexDir;
  private final Analyzer analyzer;
  private final String[] fields;
  private final boolean titled;       // documents come with a title (build-fields)
  private final boolean combined;     // BM25F (CombinedFieldQuery) rather than most_fields
  private final float titleWeight;
  private DirectoryReader reader;
  private IndexSearcher searcher;
  private int[] ordOfDoc = new int[0];

  private LucenePeer(String variant, Path indexDir) {
    this.variant = variant;
    this.indexDir = indexDir;
    titled = variant.matches("nori-bigram-(fields|bm25f)(-title2)?|nori-bigram-concat");
    combined = variant.startsWith("nori-bigram-bm25f");
    titleWeight = variant.endsWith("-title2") ? 2.0f : 1.0f;
    if (titled) {
      Map<String, Analyzer> perField = new HashMap<>();
      perField.put("title_bigram", new CJKAnalyzer());
      perField.put("body_bigram", new CJKAnalyzer());
      analyzer = new PerFieldAnalyzerWrapper(nori(), perField);
      fields = variant.equals("nori-bigram-concat") ? new String[] {"body", "body_bigram"}
                                                    : new String[] {"title", "title_bigram", "body", "body_bigram"};
      return;
    }
    switch (variant) {
      case "nori":
        analyzer = nori();
        fields = new String[] {"body"};
        break;
      case "nori-bigram": {
        Map<String, Analyzer> perField = new HashMap<>();
        perField.put("body_bigram", new CJKAnalyzer());
        analyzer = new PerFieldAnalyzerWrapper(nori(), perField);
        fields = new String[] {"body", "body_bigram"};
        break;
      }
      case "ngram":
        analyzer = new Analyzer() {
          @Override
          protected TokenStreamComponents createComponents(String field) {
            Tokenizer words = new StandardTokenizer();
            TokenStream grams = new NGramTokenFilter(new LowerCaseFilter(words), 1, 2, true);
            return new TokenStreamComponents(words, grams);
          }
        };
        fields = new String[] {"body"};
        break;
      default:
        throw new IllegalArgumentException("unknown variant " + variant + " (nori, nori-bigram, ngram)");
    }
  }

  private static Analyzer nori() {
    return new KoreanAnalyzer(null, KoreanTokenizer.DecompoundMode.MIXED,
                              KoreanPartOfSpeechStopFilter.DEFAULT_STOP_TAGS, false);
  }

  // Indexes the documents in order (ordinal i is the i-th line) and opens a searcher. `titles`
  // is null, or a title per document for the titled variants.
  private long build(List<String> texts, List<String> titles) throws IOException {
    if (reader != null) reader.close();
    Directory dir = FSDirectory.open(indexDir);
    IndexWriterConfig config = new IndexWriterConfig(analyzer);
    config.setOpenMode(IndexWriterConfig.OpenMode.CREATE);
    config.setRAMBufferSizeMB(256);
    try (IndexWriter writer = new IndexWriter(dir, config)) {
      for (int i = 0; i < texts.size(); ++i) {
        Document doc = new Document();
        for (String field : fields) {
          String text = field.startsWith("title") ? titles.get(i)
              : variant.equals("nori-bigram-concat") ? titles.get(i) + "\n" + texts.get(i) : texts.get(i);
          doc.add(new TextField(field, text, Field.Store.NO));
        }
        doc.add(new NumericDocValuesField("ord", i));
        writer.addDocument(doc);
      }
      writer.commit();
    }
    reader = DirectoryReader.open(dir);
    searcher = new IndexSearcher(reader);
    // Merges may reorder documents: map Lucene's doc ids back to ordinals once.
    ordOfDoc = new int[reader.maxDoc()];
    for (LeafReaderContext leaf : reader.leaves()) {
      NumericDocValues ords = leaf.reader().getNumericDocValues("ord");
      for (int d = ords.nextDoc(); d != DocIdSetIterator.NO_MORE_DOCS; d = ords.nextDoc()) {
        ordOfDoc[leaf.docBase + d] = (int) ords.longValue();
      }
    }
    long bytes = 0;
    try (Stream<Path> files = Files.walk(indexDir)) {
      for (Path p : (Iterable<Path>) files::iterator) {
        if (Files.isRegularFile(p)) bytes += Files.size(p);
      }
    }
    return bytes;
  }

  // The n-gram filter puts every gram of a word at the word's position, which QueryBuilder
  // (like Elasticsearch's `match`) would turn into one SynonymQuery per word, blending the
  // grams' statistics into one pseudo-term: 0.74 MRR@10 on KLUE. An n-gram index is queried as
  // an OR of its grams (as Xapian is in keyword_bench), one TermQuery per gram.
  private Query gramQuery(String text) throws IOException {
    BooleanQuery.Builder or = new BooleanQuery.Builder();
    int clauses = 0;
    try (TokenStream ts = analyzer.tokenStream("body", text)) {
      CharTermAttribute term = ts.addAttribute(CharTermAttribute.class);
      ts.reset();
      while (ts.incrementToken()) {
        or.add(new TermQuery(new Term("body", term.toString())), BooleanClause.Occur.SHOULD);
        ++clauses;
      }
      ts.end();
    }
    return clauses == 0 ? null : or.build();
  }

  // BM25F: the query QueryBuilder makes of the text on the body field (as most_fields has
  // it per field), with each term, and each group of same-position terms (a nori compound and
  // its parts), made one CombinedFieldQuery over `title` and `body` (or their sub-fields
  // `suffix`). That is how Elasticsearch's combined_fields builds its query, so the two
  // variants differ only in scoring.
  private final class CombinedFieldsBuilder extends QueryBuilder {
    private final String suffix;

    CombinedFieldsBuilder(Analyzer fieldAnalyzer, String suffix) {
      super(fieldAnalyzer);
      this.suffix = suffix;
    }

    private CombinedFieldQuery.Builder fields() {
      return new CombinedFieldQuery.Builder()
          .addField("title" + suffix, titleWeight)
          .addField("body" + suffix, 1.0f);
    }

    @Override
    protected Query newTermQuery(Term term, float boost) {
      Query q = fields().addTerm(term.bytes()).build();
      return boost == 1.0f ? q : new BoostQuery(q, boost);
    }

    @Override
    protected Query newSynonymQuery(String field, TermAndBoost[] terms) {
      CombinedFieldQuery.Builder q = fields();
      for (TermAndBoost t : terms) q.addTerm(t.term);
      return q.build();
    }
  }

  private Query query(String text) throws IOException {
    if (variant.equals("ngram")) return gramQuery(text);
    if (combined) {
      BooleanQuery.Builder or = new BooleanQuery.Builder();
      int clauses = 0;
      for (String suffix : new String[] {"", "_bigram"}) {
        Query q = new CombinedFieldsBuilder(analyzer, suffix).createBooleanQuery("body" + suffix, text, BooleanClause.Occur.SHOULD);
        if (q != null) {
          or.add(q, BooleanClause.Occur.SHOULD);
          ++clauses;
        }
      }
      return clauses == 0 ? null : or.build();
    }
    QueryBuilder builder = new QueryBuilder(analyzer);
    BooleanQuery.Builder or = new BooleanQuery.Builder();
    int clauses = 0;
    for (String field : fields) {
      Query q = builder.createBooleanQuery(field, text, BooleanClause.Occur.SHOULD);
      if (q != null && titleWeight != 1.0f && field.startsWith("title")) q = new BoostQuery(q, titleWeight);
      if (q != null) {
        or.add(q, BooleanClause.Occur.SHOULD);
        ++clauses;
      }
    }
    return clauses == 0 ? null : or.build();
  }

  private int[] search(String text, int k) throws IOException {
    Query q = query(text);
    if (q == null) return new int[0];
    ScoreDoc[] hits = searcher.search(q, k).scoreDocs;
    int[] out = new int[hits.length];
    for (int i = 0; i < hits.length; ++i) out[i] = ordOfDoc[hits[i].doc];
    return out;
  }

  private static double secondsSince(long startNanos) {
    return (System.nanoTime() - startNanos) / 1e9;
  }

  // The protocol loop (tests/bench/peer_process.h). Returns at end of input.
  private void serve(BufferedReader in, BufferedWriter out) throws IOException {
    for (String line; (line = in.readLine()) != null;) {
      String[] f = line.split("\t", -1);
      switch (f[0]) {
        case "build":
        case "build-fields": {
          int n = Integer.parseInt(f[1]);
          boolean withTitles = f[0].equals("build-fields");
          if (withTitles != titled) {
            throw new IllegalArgumentException(variant + " does not take '" + f[0] + "'");
          }
          List<String> texts = new ArrayList<>(n);
          List<String> titles = withTitles ? new ArrayList<>(n) : null;
          for (int i = 0; i < n; ++i) {
            String[] doc = in.readLine().split("\t", -1);  // containers are not used
            texts.add(doc[doc.length - 1]);
            if (withTitles) titles.add(doc[1]);
          }
          long bytes = build(texts, titles);
          out.write("built\t" + bytes + "\ton disk (Lucene 9.12.3 " + variant + ", with positions)\n");
          break;
        }
        case "search": {
          int k = Integer.parseInt(f[1]);
          int n = Integer.parseInt(f[2]);
          double budget = Double.parseDouble(f[3]);  // 0: every query, untimed
          if (budget <= 0) budget = Double.POSITIVE_INFINITY;
          double minSeconds = Double.parseDouble(f[4]);
          List<String> queries = new ArrayList<>(n);
          for (int i = 0; i < n; ++i) queries.add(in.readLine());
          if (!Double.isInfinite(budget)) {
            long warm = System.nanoTime();
            for (int i = 0; i < n && secondsSince(warm) < 10.0; ++i) search(queries.get(i), k);
          }
          List<int[]> results = new ArrayList<>(n);
          long start = System.nanoTime();
          while (results.size() < n && (results.isEmpty() || secondsSince(start) < budget)) {
            results.add(search(queries.get(results.size()), k));
          }
          double seconds = secondsSince(start);
          long timed = results.size();
          while (seconds < minSeconds) {
            long again = System.nanoTime();
            for (int i = 0; i < results.size(); ++i) search(queries.get(i), k);
            seconds += secondsSince(again);
            timed += results.size();
          }
          StringBuilder reply = new StringBuilder();
          for (int[] hits : results) {
            for (int i = 0; i < hits.length; ++i) reply.append(i == 0 ? "" : " ").append(hits[i]);
            reply.append('\n');
          }
          reply.append("searched\t").append(results.size()).append('\t').append(timed).append('\t')
              .append(seconds).append('\n');
          out.write(reply.toString());
          break;
        }
        default:
          throw new IllegalArgumentException("unknown request '" + f[0] + "'");
      }
      out.flush();
    }
  }

  public static void main(String[] args) throws IOException {
    if (args.length != 2) {
      System.err.println("usage: LucenePeer nori|nori-bigram|ngram|nori-bigram-{fields,bm25f}[-title2]|nori-bigram-concat INDEX_DIR");
      System.exit(2);
    }
    IndexSearcher.setMaxClauseCount(1 << 16);  // an OR of every gram of a long query
    LucenePeer peer = new LucenePeer(args[0], Paths.get(args[1]));
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8), 1 << 20);
    BufferedWriter out = new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8), 1 << 20);
    peer.serve(in, out);
  }
}
