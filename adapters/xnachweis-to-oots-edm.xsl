<?xml version="1.0" encoding="UTF-8"?>
<!--
  XNachweis 1.2.0 evidence request (DE.EvidenceRequest.0101)
    → EU OOTS evidence request (OASIS RegRep 4 query:QueryRequest, OOTS-EDM 1.0,
      SDG generic metadata profile), e.g. for a German authority that asks an
      evidence provider in another member state.

  Mapping
    @id (urn:uuid)                         → QueryRequest/@id (a new id: $id)
    lang/code                              → QueryRequest/@xml:lang (upper case)
    IssueDateTime                          → Slot IssueDateTime ($now: the translation time)
    EvidenceRequester (Identifier, Name, Classification) → Slot EvidenceRequester / sdg:Agent
    EvidenceProvider                       → Slot EvidenceProvider / sdg:Agent
    Query/RequestedEvidenceType            → Query Slot EvidenceRequest / sdg:DataServiceEvidenceType
    Query/LegalOrNaturalPerson/NaturalPerson → Query Slot NaturalPerson / sdg:Person
      (LevelOfAssurance, FamilyName, GivenName, DateOfBirth, BirthName,
       PlaceOfBirth, SectorSpecificAttribute such as the assessment year)
  Not mapped, on purpose
    IDNr (the German tax identification number has no meaning and no legal
    basis abroad), IssuedToken (a German NOOTS token), the XÖV header (the
    OOTS transport carries sender and receiver).

  Parameters from the gateway's context: $now, $id.
  A legal person is not mapped: the mapping stops with a message naming the field.
-->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:xn-de="urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-de-noots"
    xmlns:xn-bk="urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-baukasten"
    xmlns:xn-bdt="urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-basisdatentypen"
    xmlns:xn-eu-edm="urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-eu-edm"
    xmlns:query="urn:oasis:names:tc:ebxml-regrep:xsd:query:4.0"
    xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:4.0"
    xmlns:sdg="http://data.europa.eu/p4s"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    exclude-result-prefixes="xn-de xn-bk xn-bdt xn-eu-edm">

  <xsl:output method="xml" encoding="UTF-8" indent="yes"/>

  <xsl:param name="now"/>
  <xsl:param name="id"/>

  <xsl:template match="/">
    <xsl:if test="not(xn-de:DE.EvidenceRequest.0101)">
      <xsl:message terminate="yes">root: expected xn-de:DE.EvidenceRequest.0101</xsl:message>
    </xsl:if>
    <xsl:apply-templates select="xn-de:DE.EvidenceRequest.0101"/>
  </xsl:template>

  <xsl:template match="xn-de:DE.EvidenceRequest.0101">
    <xsl:if test="not(xn-de:Query/xn-bk:LegalOrNaturalPerson/xn-bk:NaturalPerson)">
      <xsl:message terminate="yes">Query/LegalOrNaturalPerson/NaturalPerson: missing (this mapping covers natural persons only)</xsl:message>
    </xsl:if>
    <query:QueryRequest id="{$id}">
      <xsl:attribute name="xml:lang">
        <xsl:value-of select="translate(xn-de:lang/code, 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ')"/>
      </xsl:attribute>
      <rim:Slot name="SpecificationIdentifier">
        <rim:SlotValue xsi:type="rim:StringValueType">
          <rim:Value>oots-edm:v1.0</rim:Value>
        </rim:SlotValue>
      </rim:Slot>
      <rim:Slot name="IssueDateTime">
        <rim:SlotValue xsi:type="rim:DateTimeValueType">
          <rim:Value><xsl:value-of select="$now"/></rim:Value>
        </rim:SlotValue>
      </rim:Slot>
      <rim:Slot name="PossibilityForPreview">
        <rim:SlotValue xsi:type="rim:BooleanValueType">
          <rim:Value>false</rim:Value>
        </rim:SlotValue>
      </rim:Slot>
      <rim:Slot name="ExplicitRequestGiven">
        <rim:SlotValue xsi:type="rim:BooleanValueType">
          <rim:Value>true</rim:Value>
        </rim:SlotValue>
      </rim:Slot>
      <rim:Slot name="EvidenceRequester">
        <rim:SlotValue xsi:type="rim:CollectionValueType">
          <xsl:for-each select="xn-de:EvidenceRequester">
            <rim:Element xsi:type="rim:AnyValueType">
              <xsl:call-template name="agent"/>
            </rim:Element>
          </xsl:for-each>
        </rim:SlotValue>
      </rim:Slot>
      <rim:Slot name="EvidenceProvider">
        <rim:SlotValue xsi:type="rim:AnyValueType">
          <xsl:for-each select="xn-de:EvidenceProvider">
            <xsl:call-template name="agent"/>
          </xsl:for-each>
        </rim:SlotValue>
      </rim:Slot>
      <query:ResponseOption returnType="LeafClassWithRepositoryItem"/>
      <query:Query queryDefinition="DocumentQuery">
        <xsl:apply-templates select="xn-de:Query/xn-bk:LegalOrNaturalPerson/xn-bk:NaturalPerson"/>
        <xsl:apply-templates select="xn-de:Query/xn-bk:RequestedEvidenceType"/>
      </query:Query>
    </query:QueryRequest>
  </xsl:template>

  <!-- An XNachweis agent (AgentType_NOOTS) as an SDG agent. -->
  <xsl:template name="agent">
    <sdg:Agent>
      <sdg:Identifier schemeID="{xn-bk:Identifier/@schemeID}"><xsl:value-of select="xn-bk:Identifier"/></sdg:Identifier>
      <xsl:for-each select="xn-bk:Name">
        <xsl:call-template name="multilingual">
          <xsl:with-param name="element" select="'sdg:Name'"/>
        </xsl:call-template>
      </xsl:for-each>
      <sdg:Classification><xsl:value-of select="xn-eu-edm:Classification/code"/></sdg:Classification>
    </sdg:Agent>
  </xsl:template>

  <!-- xn-bdt:String.Multilingual (value + lang code) as sdg:MultilingualStringType. -->
  <xsl:template name="multilingual">
    <xsl:param name="element"/>
    <xsl:element name="{$element}" namespace="http://data.europa.eu/p4s">
      <xsl:attribute name="lang">
        <xsl:value-of select="translate(xn-bdt:lang/code, 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ')"/>
      </xsl:attribute>
      <xsl:value-of select="xn-bdt:value"/>
    </xsl:element>
  </xsl:template>

  <xsl:template match="xn-bk:NaturalPerson">
    <rim:Slot name="NaturalPerson">
      <rim:SlotValue xsi:type="rim:AnyValueType">
        <sdg:Person>
          <sdg:LevelOfAssurance><xsl:value-of select="xn-bk:LevelOfAssurance/code"/></sdg:LevelOfAssurance>
          <xsl:if test="xn-bk:Identifier">
            <sdg:Identifier schemeID="eidas"><xsl:value-of select="xn-bk:Identifier"/></sdg:Identifier>
          </xsl:if>
          <sdg:FamilyName><xsl:value-of select="xn-bk:FamilyName"/></sdg:FamilyName>
          <sdg:GivenName><xsl:value-of select="xn-bk:GivenName"/></sdg:GivenName>
          <sdg:DateOfBirth><xsl:value-of select="xn-bk:DateOfBirth"/></sdg:DateOfBirth>
          <xsl:for-each select="xn-bk:BirthName">
            <sdg:BirthName><xsl:value-of select="."/></sdg:BirthName>
          </xsl:for-each>
          <xsl:for-each select="xn-bk:PlaceOfBirth">
            <sdg:PlaceOfBirth><xsl:value-of select="."/></sdg:PlaceOfBirth>
          </xsl:for-each>
          <xsl:for-each select="xn-bk:SectorSpecificAttribute">
            <sdg:SectorSpecificAttribute>
              <sdg:AttributeName><xsl:value-of select="xn-bk:AttributeName"/></sdg:AttributeName>
              <sdg:AttributeURI><xsl:value-of select="xn-bk:AttributeURI"/></sdg:AttributeURI>
              <sdg:AttributeValue><xsl:value-of select="xn-bk:AttributeValue"/></sdg:AttributeValue>
            </sdg:SectorSpecificAttribute>
          </xsl:for-each>
        </sdg:Person>
      </rim:SlotValue>
    </rim:Slot>
  </xsl:template>

  <xsl:template match="xn-bk:RequestedEvidenceType">
    <rim:Slot name="EvidenceRequest">
      <rim:SlotValue xsi:type="rim:AnyValueType">
        <sdg:DataServiceEvidenceType>
          <sdg:Identifier><xsl:value-of select="xn-bk:Identifier"/></sdg:Identifier>
          <sdg:EvidenceTypeClassification><xsl:value-of select="xn-bk:EvidenceTypeClassification"/></sdg:EvidenceTypeClassification>
          <xsl:for-each select="xn-bk:Title">
            <xsl:call-template name="multilingual">
              <xsl:with-param name="element" select="'sdg:Title'"/>
            </xsl:call-template>
          </xsl:for-each>
          <xsl:for-each select="xn-bk:Description">
            <xsl:call-template name="multilingual">
              <xsl:with-param name="element" select="'sdg:Description'"/>
            </xsl:call-template>
          </xsl:for-each>
          <sdg:DistributedAs>
            <sdg:Format><xsl:value-of select="xn-bk:DistributedAs/xn-bk:Format/code"/></sdg:Format>
            <xsl:for-each select="xn-bk:DistributedAs/xn-bk:ConformsTo">
              <sdg:ConformsTo><xsl:value-of select="."/></sdg:ConformsTo>
            </xsl:for-each>
            <xsl:for-each select="xn-bk:DistributedAs/xn-bk:Transformation">
              <sdg:Transformation><xsl:value-of select="."/></sdg:Transformation>
            </xsl:for-each>
          </sdg:DistributedAs>
        </sdg:DataServiceEvidenceType>
      </rim:SlotValue>
    </rim:Slot>
  </xsl:template>
</xsl:stylesheet>
