/* The book's small script (loaded on every page; see _static/ntn.css).
 *
 * Marks each inline formula that is wider than its paragraph with the class
 * ntn-wide, so that it scrolls on a line of its own instead of being cut off
 * or widening the page, and each displayed formula that scrolls with
 * ntn-scrolls (a visible hint).  Runs when MathJax has typeset the page and
 * again when the window is resized.  Output figures keep a legible size. */
(function () {
  function fitInlineMath() {
    document.querySelectorAll("span.math").forEach(function (span) {
      var math = span.querySelector("mjx-container");
      if (!math || !span.parentElement) return;
      span.classList.remove("ntn-wide");
      var room = span.parentElement.getBoundingClientRect().width;
      if (math.getBoundingClientRect().width > room + 1) span.classList.add("ntn-wide");
    });
  }
  // a displayed formula wider than its box scrolls: say so (_static/ntn.css)
  function markScrolling() {
    document.querySelectorAll('.bd-article mjx-container[display="true"]').forEach(function (c) {
      c.classList.toggle("ntn-scrolls", c.scrollWidth > c.clientWidth + 1);
    });
  }
  // Output figures are drawn at 100 dpi (matplotlib's default, which the
  // chapters keep; tests/test_book.py reads each PNG's resolution), where
  // 10-pt text is 13.9 px: shown at no less than 2/3 of its natural width, the
  // text stays >= 9 px.  A narrower column (a phone) scrolls the figure
  // sideways in a box of its own instead of shrinking it further.
  var FIGURE_MIN_SCALE = 0.67;
  function legibleFigures() {
    document.querySelectorAll(".bd-article div.cell_output > img").forEach(function (img) {
      var box = document.createElement("div");
      box.className = "ntn-figure";
      img.parentNode.insertBefore(box, img);
      box.appendChild(img);
      var fit = function () {
        if (img.naturalWidth) img.style.minWidth = Math.ceil(img.naturalWidth * FIGURE_MIN_SCALE) + "px";
      };
      if (img.complete) fit(); else img.addEventListener("load", fit);
    });
  }
  function afterTypeset() {
    fitInlineMath();
    markScrolling();
  }
  function whenTypeset() {
    var mj = window.MathJax;
    if (mj && mj.startup && mj.startup.promise) {
      mj.startup.promise.then(afterTypeset);
    } else {
      setTimeout(whenTypeset, 50);
    }
  }
  var timer = null;
  window.addEventListener("resize", function () {
    clearTimeout(timer);
    timer = setTimeout(afterTypeset, 100);
  });
  function start() {
    legibleFigures();
    whenTypeset();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
