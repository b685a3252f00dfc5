/* The book's small script (loaded on every page; see _static/ntn.css).
 *
 * Marks each inline formula that is wider than its paragraph with the class
 * ntn-wide, so that it scrolls on a line of its own instead of being cut off
 * or widening the page.  Runs when MathJax has typeset the page and again
 * when the window is resized. */
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
  function whenTypeset() {
    var mj = window.MathJax;
    if (mj && mj.startup && mj.startup.promise) {
      mj.startup.promise.then(fitInlineMath);
    } else {
      setTimeout(whenTypeset, 50);
    }
  }
  var timer = null;
  window.addEventListener("resize", function () {
    clearTimeout(timer);
    timer = setTimeout(fitInlineMath, 100);
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", whenTypeset);
  } else {
    whenTypeset();
  }
})();
