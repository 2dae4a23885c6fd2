// Receipt opened with ?print=1: bring up the print dialog once the page has laid out.
window.addEventListener("load", function () { window.print(); });
